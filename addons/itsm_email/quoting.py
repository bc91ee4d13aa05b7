# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Separation of what a reply says from the history it quotes.

:func:`split_quoted` cuts a text body in two at the first line where the
quoted history or the signature starts. Nothing is dropped: the two parts
concatenated give the text back, so that the history can be folded away
in the user interface and shown on demand.
"""
import re

__all__ = ['split_quoted']

# How many lines a client may wrap an attribution line over.
_ATTRIBUTION_LINES = 3
# How far from a 'From:' line the other fields of a header block may be:
# long recipient lists wrap over several lines.
_HEADER_BLOCK_LINES = 10

# Attribution lines, matched on the text of up to three lines joined by
# single spaces. Those with a fixed first word may be wrapped; the rest
# must fit on one line that follows a blank one.
_ATTRIBUTIONS = [re.compile(p, re.IGNORECASE) for p in (
        r'^on\s.+\swrote\s?:$',
        r'^le\s.+\sa\s[ée]crit\s?:$',
        r'^am\s.+\sschrieb\b.*:$',
        r'^w dniu\s.+\s(?:pisze|napisa[łl](?:\(a\)|a)?)\s?:$',
        r'^dnia\s.+\s(?:pisze|napisa[łl](?:\(a\)|a)?)\s?:$',
        r'^el\s.+\sescribi[óo]\s?:$',
        )]
_LOOSE_ATTRIBUTIONS = [re.compile(p, re.IGNORECASE) for p in (
        r'^.+\s(?:napisa[łl](?:\(a\)|a)?|pisze)\s?:$',
        r'^.+\s(?:wrote|schrieb|escribi[óo])\s?:$',
        r'^.+\sa\s[ée]crit\s?:$',
        )]
_ORIGINAL_MESSAGE = re.compile(
    r'^\s*-{2,}\s*(?:original message|ursprüngliche nachricht'
    r'|originalnachricht|message d\'origine|mensaje original'
    r'|wiadomość oryginalna|oryginalna wiadomość|oorspronkelijk bericht'
    r'|messaggio originale)\s*-{2,}\s*$', re.IGNORECASE)
# Outlook writes the header fields in the language of its user; an HTML
# body made text may keep their bold stars.
_FIELD = r'^\s*\*?(?:{})\s?:'
_FROM_FIELD = re.compile(
    _FIELD.format(r'from|de|von|od|van|da|från|fra'), re.IGNORECASE)
_SENT_FIELD = re.compile(
    _FIELD.format(
        r'sent|date|envoyé|gesendet|datum|wysłano|data|enviado|fecha'
        r'|verzonden|inviato|skickat|sendt'),
    re.IGNORECASE)
_SUBJECT_FIELD = re.compile(
    _FIELD.format(
        r'subject|objet|betreff|temat|asunto|onderwerp|oggetto|ämne|emne'),
    re.IGNORECASE)
_SEPARATOR = re.compile(r'^\s*_{10,}\s*$')
_SIGNATURE = re.compile(r'^-- ?$')
_HAS_DETAIL = re.compile(r'[\d@]')


def _content(line):
    "Return line without its line break"
    return line.rstrip('\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029')


def _is_blank(line):
    return not line.strip()


def _is_quoted(line):
    return line.lstrip().startswith('>')


def _next_filled(lines, start):
    "Return the index of the first non blank line from start, or None"
    for i in range(start, len(lines)):
        if not _is_blank(lines[i]):
            return i
    return None


def _only_quoted_after(lines, start):
    return all(
        _is_blank(line) or _is_quoted(line) for line in lines[start:])


def _attribution_at(lines, i):
    "Return whether an attribution line starts at line i"
    if _is_blank(lines[i]) or _is_quoted(lines[i]):
        return False
    after_blank = i == 0 or _is_blank(lines[i - 1])
    joined = ''
    for j in range(i, min(i + _ATTRIBUTION_LINES, len(lines))):
        if j > i and (_is_blank(lines[j]) or _is_quoted(lines[j])):
            break
        joined = ' '.join((joined + ' ' + lines[j]).split())
        if any(p.match(joined) for p in _ATTRIBUTIONS):
            pass
        elif j == i and after_blank and any(
                p.match(joined) for p in _LOOSE_ATTRIBUTIONS):
            pass
        else:
            continue
        following = _next_filled(lines, j + 1)
        if following is None:
            return True
        if _is_quoted(lines[following]):
            # Quoted lines followed by new text are an inline reply,
            # whose attribution is part of it.
            return _only_quoted_after(lines, following)
        # A history pasted without quotes: only an attribution with a
        # date or an address is trusted, not "On Monday Anna wrote:".
        return bool(_HAS_DETAIL.search(joined))
    return False


def _header_block_at(lines, i):
    "Return whether Outlook's header block of a message starts at line i"
    if not _FROM_FIELD.match(lines[i]):
        return False
    window = lines[i + 1:i + 1 + _HEADER_BLOCK_LINES]
    return (any(_SENT_FIELD.match(line) for line in window)
        and any(_SUBJECT_FIELD.match(line) for line in window))


def _separator_at(lines, i):
    "Return whether a line of underscores followed by From: is at line i"
    if not _SEPARATOR.match(lines[i]):
        return False
    following = _next_filled(lines, i + 1)
    return following is not None and bool(
        _FROM_FIELD.match(lines[following]))


def _trailing_quote(lines):
    "Return the index where the quoted block ending the text starts"
    start = None
    for i in range(len(lines) - 1, -1, -1):
        if _is_quoted(lines[i]):
            start = i
        elif not _is_blank(lines[i]):
            break
    if start is None:
        return None
    # Take the blank lines before it along.
    while start > 0 and _is_blank(lines[start - 1]):
        start -= 1
    return start


def _history_at(lines, i):
    "Return whether the history or the signature surely starts at line i"
    line = lines[i]
    return not _is_quoted(line) and bool(
        _SIGNATURE.match(_content(line))
        or _ORIGINAL_MESSAGE.match(line)
        or _separator_at(lines, i)
        or _header_block_at(lines, i))


def _cut(lines):
    "Return the index of the first line of the history, or None"
    cut = next(
        (i for i in range(len(lines)) if _history_at(lines, i)),
        len(lines))
    # An attribution whose quote runs up to the history below it is
    # history too, also when that history is a signature placed below the
    # quote: they are read from the bottom up.
    body = lines[:cut]
    for i in reversed(range(cut)):
        if _attribution_at(body, i):
            del body[i:]
            cut = i
    # So is the quote just before the history.
    start = _trailing_quote(body)
    if start is not None:
        return start
    return cut if cut < len(lines) else None


def split_quoted(text):
    "Return the new part of text and the quoted history that follows it"
    lines = text.splitlines(keepends=True)
    cut = _cut(lines)
    if cut is None:
        return text, ''
    new = ''.join(lines[:cut])
    if not new.strip():
        # All of it is history: showing nothing would hide the message.
        return text, ''
    return new, ''.join(lines[cut:])
