# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Tests of the separation of a reply from the history it quotes"
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm_email.quoting import split_quoted

PROPERTIES = settings(
    max_examples=200, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])

EOLS = pytest.mark.parametrize('eol', ['\n', '\r\n'], ids=['LF', 'CRLF'])
# Written with an escape: a signature separator ends with a space, which
# the source must not.
SIGNATURE = '--\x20'


def _text(lines, eol='\n'):
    "Return the text of lines, each ended by eol"
    return ''.join(line + eol for line in lines)


REPLY = ['Thanks, the printer works again.', '']
GMAIL = [
    'On Mon, 3 Dec 2026 at 10:00, Anna Kowalska <anna@example.com> wrote:',
    '',
    '> The printer on the second floor is broken.',
    '> Anna',
    ]
# Each case: the lines of the reply and those of the history after it.
CUT = {
    'gmail': (REPLY, GMAIL),
    'gmail wrapped over 2 lines': (REPLY, [
            'On Mon, 3 Dec 2026 at 10:00, Anna Kowalska <',
            'anna@example.com> wrote:',
            '',
            '> The printer is broken.',
            ]),
    'gmail wrapped over 3 lines': (REPLY, [
            'On Mon, 3 Dec 2026 at 10:00,',
            'Anna Kowalska from the Accounting Department',
            '<anna@example.com> wrote:',
            '> The printer is broken.',
            ]),
    'gmail German': (REPLY, [
            'Am Mo., 3. Dez. 2026 um 10:00 Uhr schrieb Anna Kowalska '
            '<anna@example.com>:',
            '> Der Drucker ist kaputt.',
            ]),
    'gmail French': (REPLY, [
            'Le lun. 3 déc. 2026 à 10:00, Anna Kowalska '
            '<anna@example.com> a écrit :',
            '> L\'imprimante est en panne.',
            ]),
    'Polish W dniu ... pisze': (['Dzięki, działa.', ''], [
            'W dniu 3.12.2026 o 10:00, Anna Kowalska <anna@example.pl> '
            'pisze:',
            '> Drukarka nie działa.',
            ]),
    'Polish W dniu ... napisała wrapped': (['Dzięki, działa.', ''], [
            'W dniu 3.12.2026 o 10:00, Anna Kowalska <anna@example.pl>',
            'napisała:',
            '> Drukarka nie działa.',
            ]),
    'loose attribution after a blank line': (REPLY, [
            'Anna Kowalska <anna@example.com> wrote:',
            '> The printer is broken.',
            ]),
    'attribution with a date before unquoted history': (REPLY, [
            'On Mon, 3 Dec 2026 at 10:00, Anna <anna@example.com> wrote:',
            'The printer is broken.',
            ]),
    'Outlook English after underscores': (['Done, see attached.', ''], [
            '________________________________',
            'From: Anna Kowalska <anna@example.com>',
            'Sent: Monday, December 3, 2026 10:00 AM',
            'To: Helpdesk <helpdesk@example.org>',
            'Subject: [TCK-00012] Printer',
            '',
            'The printer is broken.',
            ]),
    'Outlook English with a long recipient list': (REPLY, [
            'From: Anna Kowalska <anna@example.com>',
            'Sent: Monday, December 3, 2026 10:00 AM',
            'To: Helpdesk <helpdesk@example.org>; Jan Nowak',
            '<jan@example.com>; Piotr Wiśniewski <piotr@example.com>;',
            'Ewa Zielińska <ewa@example.com>',
            'Cc: Accounting <accounting@example.com>',
            'Subject: RE: [TCK-00012] Printer',
            '',
            'The printer is broken.',
            ]),
    'Outlook German': (['Danke, geht wieder.', ''], [
            'Von: Anna Kowalska <anna@example.de>',
            'Gesendet: Montag, 3. Dezember 2026 10:00',
            'An: Helpdesk <helpdesk@example.org>',
            'Betreff: Drucker',
            '',
            'Der Drucker ist kaputt.',
            ]),
    'Outlook Polish': (['Dzięki, działa.', ''], [
            'Od: Anna Kowalska <anna@example.pl>',
            'Wysłano: poniedziałek, 3 grudnia 2026 10:00',
            'Do: Helpdesk <helpdesk@example.org>',
            'Temat: Drukarka',
            '',
            'Drukarka nie działa.',
            ]),
    'Outlook French with no-break spaces': (['Merci, ça marche.', ''], [
            'De\u00a0: Anna Kowalska <anna@example.fr>',
            'Envoyé\u00a0: lundi 3 décembre 2026 10:00',
            'À\u00a0: Helpdesk <helpdesk@example.org>',
            'Objet\u00a0: Imprimante',
            '',
            'L\'imprimante est en panne.',
            ]),
    'Outlook French with spaces': (['Merci, ça marche.', ''], [
            'De : Anna Kowalska <anna@example.fr>',
            'Envoyé : lundi 3 décembre 2026 10:00',
            'À : Helpdesk <helpdesk@example.org>',
            'Objet : Imprimante',
            ]),
    'Outlook HTML made text, with bold stars': (REPLY, [
            '*From:* Anna Kowalska <anna@example.com>',
            '*Sent:* Monday, December 3, 2026 10:00 AM',
            '*To:* Helpdesk <helpdesk@example.org>',
            '*Subject:* Printer',
            ]),
    'Original Message': (REPLY, [
            '-----Original Message-----',
            'From: Anna Kowalska [mailto:anna@example.com]',
            'The printer is broken.',
            ]),
    'Ursprüngliche Nachricht': (REPLY, [
            '-----Ursprüngliche Nachricht-----',
            'Von: Anna Kowalska',
            ]),
    'Wiadomość oryginalna': (REPLY, [
            '---- Wiadomość oryginalna ----',
            'Od: Anna Kowalska',
            ]),
    'signature': (['Restarted the spooler, please try again.'], [
            SIGNATURE,
            'Jan Nowak',
            'IT Service Desk',
            ]),
    'signature without its space': (['Restarted the spooler.'], [
            '--',
            'Jan Nowak',
            ]),
    'signature above the history': (REPLY, [SIGNATURE, 'Jan', '', *GMAIL]),
    'quote below the reply without attribution': (['Yes, tonight.'], [
            '',
            '> Can I reboot the server tonight?',
            '> Anna',
            ]),
    'signature below the quote (Thunderbird)': (REPLY, [
            'On 03/12/2026 10:00, Anna Kowalska wrote:',
            '> The printer is broken.',
            '>',
            SIGNATURE,
            'Jan Nowak',
            ]),
    'quote without attribution above the signature': (['Yes, tonight.'], [
            '',
            '> Can I reboot the server tonight?',
            SIGNATURE,
            'Jan Nowak',
            ]),
    'attribution whose quote runs into an older attribution': (REPLY, [
            'On Mon, 3 Dec 2026 at 10:00, Anna <anna@example.com> wrote:',
            '> Is it fixed?',
            'On Sun, 2 Dec 2026 at 09:00, Jan <jan@example.com> wrote:',
            '> Please try again.',
            ]),
    'dangling attribution before another one': (['Thanks.'], [
            'On Monday Anna wrote:',
            'On Mon, 3 Dec 2026 at 10:00, Anna <anna@example.com> wrote:',
            '> The printer is broken.',
            ]),
    'quote above Original Message': (['Yes, tonight.'], [
            '',
            '> Can I reboot the server tonight?',
            '',
            '-----Original Message-----',
            'From: Anna Kowalska',
            ]),
    }


@EOLS
@pytest.mark.parametrize(
    'reply, history', list(CUT.values()), ids=list(CUT))
def test_split_quoted_cuts_at_the_start_of_the_history(reply, history, eol):
    assert split_quoted(_text(reply + history, eol)) == (
        _text(reply, eol), _text(history, eol))


KEPT = {
    'no history': [
        'Hello,', '', 'the printer on the second floor is broken.',
        'Error: paper jam', '', 'Anna',
        ],
    'inline reply': [
        'Hi Anna,',
        '',
        'On Mon, 3 Dec 2026 at 10:00, Anna Kowalska <anna@example.com> '
        'wrote:',
        '> Is the printer switched on?',
        '',
        'Yes, it is.',
        '',
        '> And is the cable plugged in?',
        '',
        'It is, I checked twice.',
        ],
    'bottom posted reply': [
        'On Mon, 3 Dec 2026 at 10:00, Anna Kowalska <anna@example.com> '
        'wrote:',
        '> Can I reboot the server tonight?',
        '',
        'Yes, after 22:00.',
        ],
    'attribution without date or address before unquoted text': [
        'Thanks.',
        '',
        'On Monday Anna wrote:',
        'the printer is broken, so I called the vendor.',
        ],
    'a From: line without the rest of a header block': [
        'Hi,',
        '',
        'From: the accounting team we still need',
        '- a printer',
        '- a scanner',
        ],
    'From:, To: and Subject: lines without a date': [
        'Please move my phone.',
        'From: room 101',
        'To: room 204',
        'Subject: to approval by my manager',
        ],
    'From: and Date: lines without a subject': [
        'Please move my phone.',
        'From: room 101',
        'Date: any day next week',
        ],
    'underscores without a From: line': [
        'Please sign here:', '', '______________________', 'Name',
        ],
    'a line that starts like a signature': [
        'Thanks', '-- see the log below', 'error 42',
        ],
    'all of it attribution and quote': GMAIL,
    'all of it quoted': ['> The printer is broken.', '> Anna'],
    'quote and signature only': [
        '> The printer is broken.', SIGNATURE, 'Jan Nowak',
        ],
    }


@EOLS
@pytest.mark.parametrize('lines', list(KEPT.values()), ids=list(KEPT))
def test_split_quoted_keeps_whole_a_text_without_history(lines, eol):
    text = _text(lines, eol)
    assert split_quoted(text) == (text, '')


def test_split_quoted_cuts_only_the_quote_that_ends_an_inline_reply():
    reply = [
        'On Mon, 3 Dec 2026 at 10:00, Anna Kowalska <anna@example.com> '
        'wrote:',
        '> Is the printer switched on?',
        'Yes.',
        '> And the cable?',
        'Plugged in.',
        ]
    history = ['', '> Thanks for your help,', '> Anna']
    assert split_quoted(_text(reply + history)) == (
        _text(reply), _text(history))


def test_split_quoted_of_text_without_final_line_break():
    assert split_quoted('Thanks\n-- \nJan') == ('Thanks\n', '-- \nJan')


def test_split_quoted_of_empty_text():
    assert split_quoted('') == ('', '')


# Properties

_line_breaks = st.sampled_from(
    ['\n', '\r\n', '\r', '\x0b', '\x0c', '\x1c', '\x85', '\u2028'])
_lines = st.sampled_from([
        'Thanks', 'Hi Anna,', '', ' ', '> quoted', '>', '> > deeper',
        SIGNATURE, '--', 'Jan', 'Sent from my phone',
        GMAIL[0], 'On Mon, 3 Dec 2026 at 10:00, Anna', '<anna@x.com> wrote:',
        'W dniu 3.12.2026 Anna pisze:', 'Anna <anna@x.com> wrote:',
        '-----Original Message-----', '________________________________',
        'From: Anna <anna@x.com>', 'Sent: Monday', 'To: hd', 'Subject: x',
        'Von: Anna', 'Gesendet: Montag', 'Betreff: x',
        ])
_structured = st.builds(
    lambda lines, eol: eol.join(lines), st.lists(_lines, max_size=15),
    _line_breaks)
_texts = st.one_of(
    st.text(),
    st.lists(
        st.one_of(st.text(max_size=10), _lines, _line_breaks),
        max_size=20).map(''.join),
    _structured)


@PROPERTIES
@given(_texts)
def test_split_quoted_parts_give_the_text_back(text):
    new, quoted = split_quoted(text)
    assert new + quoted == text
    # The history is cut off only after something new.
    assert new.strip() or not quoted


@PROPERTIES
@given(_texts)
def test_split_quoted_history_split_again_is_all_history(text):
    _, quoted = split_quoted(text)
    if quoted:
        assert split_quoted(quoted) == (quoted, '')


@PROPERTIES
@given(_texts)
def test_split_quoted_new_part_split_again_is_unchanged(text):
    new, _ = split_quoted(text)
    assert split_quoted(new) == (new, '')


# Plain sentences: no quote marks, dashes, underscores or colons, which
# all history markers need.
_sentences = st.from_regex(r'\A[A-Za-z0-9][A-Za-z0-9 ,.!?]{0,40}\Z')
_quoted = st.text(
    st.characters(blacklist_categories=('Cc', 'Cs', 'Zl', 'Zp')),
    max_size=30).map(lambda line: '> ' + line)
_free = st.text(
    st.characters(blacklist_categories=('Cc', 'Cs', 'Zl', 'Zp')),
    max_size=30)
_history = st.one_of(
    st.lists(_quoted, min_size=1, max_size=5).map(
        lambda quote: [GMAIL[0], '', *quote]),
    st.lists(_quoted, min_size=1, max_size=5).map(
        lambda quote: [
            'W dniu 3.12.2026 o 10:00, Anna <anna@example.pl>',
            'pisze:', *quote]),
    st.lists(_free, max_size=5).map(lambda rest: [SIGNATURE, *rest]),
    st.lists(_free, max_size=5).map(
        lambda rest: ['-----Original Message-----', *rest]),
    st.lists(_free, max_size=5).map(
        lambda rest: [
            '________________________________', 'From: Anna',
            'Sent: Monday', 'Subject: Printer', *rest]),
    st.lists(_free, max_size=5).map(
        lambda rest: [
            'Od: Anna', 'Wysłano: poniedziałek', 'Do: Helpdesk',
            'Temat: Drukarka', *rest]),
    )


@PROPERTIES
@given(
    st.lists(st.one_of(_sentences, st.just('')), min_size=1, max_size=6)
    .filter(lambda lines: any(lines)),
    _history, st.sampled_from(['\n', '\r\n']))
def test_split_quoted_cuts_a_reply_from_any_history(reply, history, eol):
    reply = [*reply, '']
    assert split_quoted(_text(reply + history, eol)) == (
        _text(reply, eol), _text(history, eol))
