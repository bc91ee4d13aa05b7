# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Collecting messages from IMAP and POP3 mailboxes.

A client fetches messages without changing anything on the server; what was
fetched is marked (read, moved or deleted) only once the transaction that
stored the messages has committed, through :class:`MarkAfterCommit`, so
that a crash between the two leaves the messages on the server to be
fetched again (and recognised as duplicates by their Message-ID).
"""
import imaplib
import logging
import poplib
import re
import socket
import ssl
from dataclasses import dataclass

from .aftercommit import AfterCommit

__all__ = [
    'CollectError', 'Settings', 'open_client', 'MarkAfterCommit',
    'scrub']

logger = logging.getLogger(__name__)
TIMEOUT = 60
_UID = re.compile(rb'UID (\d+)')


class CollectError(Exception):
    "The mailbox cannot be read; the message is safe to show"


@dataclass
class Settings:
    protocol: str               # 'imap' or 'pop3'
    host: str
    port: int | None
    security: str               # 'ssl', 'starttls' or 'none'
    username: str
    password: str
    folder: str = 'INBOX'
    processed_folder: str | None = None
    certificate: str | None = None  # trusted PEM instead of the system's
    timeout: float = TIMEOUT

    def ssl_context(self):
        if self.certificate:
            return ssl.create_default_context(cadata=self.certificate)
        return ssl.create_default_context()


def scrub(text, settings):
    "Return text without the password, whatever the library put in it"
    text = str(text)
    if settings.password:
        text = text.replace(settings.password, '********')
    return text


def open_client(settings):
    "Return a logged-in client of the mailbox, or raise CollectError"
    client = {'imap': IMAPClient, 'pop3': POP3Client}[settings.protocol]
    try:
        return client(settings)
    except CollectError:
        raise
    except (OSError, ssl.SSLError, imaplib.IMAP4.error, poplib.error_proto,
            EOFError) as error:
        raise CollectError(scrub(
                f"{settings.protocol.upper()} {settings.host}: "
                f"{_describe(error)}", settings))


def _describe(error):
    if isinstance(error, ssl.SSLCertVerificationError):
        return ("the server's certificate is not trusted "
            f"({error.verify_message})")
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer in time"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    message = error.args[0] if error.args else error
    if isinstance(message, bytes):
        message = message.decode('utf-8', 'replace')
    return str(message) or type(error).__name__


class IMAPClient:
    "Unseen messages of a folder; marked seen or moved once stored"

    def __init__(self, settings):
        self.settings = settings
        port = settings.port
        if settings.security == 'ssl':
            self.connection = imaplib.IMAP4_SSL(
                settings.host, port or 993,
                ssl_context=settings.ssl_context(), timeout=settings.timeout)
        else:
            self.connection = imaplib.IMAP4(
                settings.host, port or 143, timeout=settings.timeout)
            if settings.security == 'starttls':
                self.connection.starttls(ssl_context=settings.ssl_context())
        try:
            self.connection.login(settings.username, settings.password)
            # The capabilities before login do not list the extensions.
            _, data = self.connection.capability()
            self.capabilities = set(
                (data[-1] or b'').decode('ascii', 'replace').upper().split())
            status, data = self.connection.select(
                _quote(settings.folder or 'INBOX'))
            if status != 'OK':
                raise CollectError(
                    f"IMAP {settings.host}: cannot open the folder "
                    f"{settings.folder!r}: {_text(data)}")
        except BaseException:
            self.close()
            raise

    def fetch(self, limit):
        "Return up to limit (uid, raw bytes) of the unseen messages"
        status, data = self.connection.uid('SEARCH', None, 'UNSEEN')
        if status != 'OK':
            raise CollectError(f"IMAP SEARCH failed: {_text(data)}")
        uids = (data[0] or b'').split()[:limit]
        messages = []
        for uid in uids:
            # BODY.PEEK leaves the message unseen until it is stored.
            status, data = self.connection.uid(
                'FETCH', uid, '(UID BODY.PEEK[])')
            if status != 'OK':
                raise CollectError(f"IMAP FETCH failed: {_text(data)}")
            raw = None
            for item in data:
                if isinstance(item, tuple) and _UID.search(item[0]):
                    raw = item[1]
            if raw is not None:
                messages.append((uid.decode(), raw))
        return messages

    def mark(self, uids):
        "File the stored messages away: moved when a folder is set, else seen"
        if not uids:
            return
        uid_set = ','.join(uids)
        folder = self.settings.processed_folder
        if folder:
            self.connection.create(_quote(folder))  # fails when it exists
            if 'MOVE' in self.capabilities:
                status, data = self.connection.uid(
                    'MOVE', uid_set, _quote(folder))
            else:
                status, data = self.connection.uid(
                    'COPY', uid_set, _quote(folder))
                if status == 'OK':
                    self.connection.uid(
                        'STORE', uid_set, '+FLAGS', r'(\Deleted)')
                    self.connection.expunge()
        else:
            status, data = self.connection.uid(
                'STORE', uid_set, '+FLAGS', r'(\Seen)')
        if status != 'OK':
            raise CollectError(f"IMAP could not mark {uid_set}: {_text(data)}")

    def close(self):
        try:
            self.connection.logout()
        except Exception:
            pass


class POP3Client:
    "The messages of a POP3 mailbox; deleted once stored"

    def __init__(self, settings):
        self.settings = settings
        port = settings.port
        if settings.security == 'ssl':
            self.connection = poplib.POP3_SSL(
                settings.host, port or 995,
                context=settings.ssl_context(), timeout=settings.timeout)
        else:
            self.connection = poplib.POP3(
                settings.host, port or 110, timeout=settings.timeout)
            if settings.security == 'starttls':
                self.connection.stls(context=settings.ssl_context())
        try:
            self.connection.user(settings.username)
            self.connection.pass_(settings.password)
        except BaseException:
            self.close()
            raise

    def fetch(self, limit):
        "Return up to limit (message number, raw bytes)"
        count, _ = self.connection.stat()
        messages = []
        for number in range(1, min(count, limit) + 1):
            _, lines, _ = self.connection.retr(number)
            messages.append((str(number), b'\r\n'.join(lines) + b'\r\n'))
        return messages

    def mark(self, numbers):
        "Delete the stored messages; the server removes them on QUIT"
        for number in numbers:
            self.connection.dele(int(number))
        self.connection.quit()
        self.connection = None

    def close(self):
        if self.connection is None:
            return
        try:
            # RSET: nothing fetched is deleted when the store failed.
            self.connection.rset()
            self.connection.quit()
        except Exception:
            pass
        self.connection = None


def _quote(folder):
    return '"' + folder.replace('\\', '\\\\').replace('"', '\\"') + '"'


def _text(data):
    return ' '.join(
        d.decode('utf-8', 'replace') if isinstance(d, bytes) else str(d)
        for d in (data or []) if d)


class MarkAfterCommit(AfterCommit):
    """Marks the fetched messages on the server after the commit, logs out
    either way"""

    def __init__(self, client, uids):
        self.client = client
        self.uids = uids

    def __eq__(self, other):
        return other is self

    def __hash__(self):
        return id(self)

    def finish(self, transaction):
        try:
            self.client.mark(self.uids)
        except Exception as error:
            # The messages stay on the server: the next collection fetches
            # them again and the Message-ID tells they are duplicates.
            logger.warning("cannot mark %d messages on %s: %s",
                len(self.uids), self.client.settings.host,
                scrub(error, self.client.settings))
        finally:
            self.client.close()

    def discard(self, transaction):
        self.client.close()
