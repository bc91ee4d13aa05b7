# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""`itsm-mailgate`: hand one message from the MTA to Tryton.

Like Request Tracker's rt-mailgate, the MTA pipes one message on standard
input and the command POSTs it, unchanged, to Tryton's inbound_email webhook
with ``Content-Type: message/rfc822``:

    itsm-mailgate --url 'http://127.0.0.1:8000/DB/inbound_email/inbox/ID?type=raw'

In Postfix's master.cf, for example:

    itsm unix - n n - - pipe flags=DORq user=itsm
      argv=/path/to/itsm-mailgate --url http://...

The exit status follows sendmail's sysexits, so that the MTA keeps and
retries a message on a temporary failure and bounces it on a permanent one:

    0   delivered: the server answered 2xx
    75  EX_TEMPFAIL: server unreachable, timeout, 5xx, 429, a redirect,
        or this command is misconfigured: the MTA keeps the message
    65  EX_DATAERR: the server refused the message (4xx other than 429,
        e.g. 404 unknown inbox), or it is larger than --max-size: bounced
    66  EX_NOINPUT: empty input

Any failure is explained in one line on standard error, which the MTA
quotes in its log and in the bounce.
"""
import argparse
import http.client
import sys
import urllib.error
import urllib.parse
import urllib.request

EX_OK = 0
EX_DATAERR = 65
EX_NOINPUT = 66
EX_TEMPFAIL = 75
DEFAULT_TIMEOUT = 60
DEFAULT_MAX_SIZE = 25 * 1024 * 1024
PROG = 'itsm-mailgate'


class Failure(Exception):
    "A delivery that did not happen, with its exit status"
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        # A mistake in the MTA's configuration must not bounce every message
        # that reaches the gate: keep them queued until it is fixed.
        self.print_usage(sys.stderr)
        self.exit(EX_TEMPFAIL, f"{self.prog}: error: {message}\n")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib follows a 301/302/303 answer to a POST with a GET without the
    # body: the message would be lost while the gate reports success.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _positive(kind):
    def convert(value):
        number = kind(value)
        if number <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {value}")
        return number
    return convert


def _http_url(value):
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in {'http', 'https'} or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value}")
    return value


def parse_args(argv=None):
    parser = _ArgumentParser(prog=PROG, description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--url', required=True, type=_http_url,
        help="the inbound_email webhook of the inbox "
        "(http://HOST:PORT/DATABASE/inbound_email/inbox/ID?type=raw)")
    parser.add_argument('--timeout', type=_positive(float),
        default=DEFAULT_TIMEOUT,
        help="seconds to wait for the server (default: %(default)s)")
    parser.add_argument('--max-size', type=_positive(int),
        default=DEFAULT_MAX_SIZE,
        help="largest message accepted, in bytes (default: %(default)s)")
    return parser.parse_args(argv)


def read_message(stream, max_size):
    "Return the message read from the binary stream, at most max_size bytes"
    # Reading one byte more than allowed tells a message that is too large
    # without holding an unbounded one in memory.
    data = stream.read(max_size + 1)
    if not data.strip():
        raise Failure(EX_NOINPUT, "no message on standard input")
    if len(data) > max_size:
        raise Failure(EX_DATAERR,
            f"message too large (more than {max_size} bytes)")
    return data


def _excerpt(response):
    try:
        body = response.read(300)
    except (OSError, http.client.HTTPException):
        return ''
    text = ' '.join(body.decode('utf-8', 'replace').split())
    return f": {text[:200]}" if text else ''


def post(url, data, timeout):
    "POST the message to the webhook; raise Failure unless it answers 2xx"
    request = urllib.request.Request(url, data=data, method='POST',
        headers={
            'Content-Type': 'message/rfc822',
            'User-Agent': PROG,
            })
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
        detail = f"{url} answered {status} {error.reason}{_excerpt(error)}"
        error.close()
        if status == 429 or status >= 500 or status < 400:
            raise Failure(EX_TEMPFAIL, detail)
        raise Failure(EX_DATAERR, detail)
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        raise Failure(EX_TEMPFAIL, f"cannot reach {url}: {reason}")
    except TimeoutError:
        raise Failure(EX_TEMPFAIL,
            f"no answer from {url} within {timeout:g} s")
    except (OSError, http.client.HTTPException) as error:
        raise Failure(EX_TEMPFAIL,
            f"cannot deliver to {url}: {error!r}")
    if not 200 <= status < 300:
        raise Failure(EX_TEMPFAIL, f"{url} answered {status}")


def main(argv=None):
    args = parse_args(argv)
    try:
        data = read_message(sys.stdin.buffer, args.max_size)
        post(args.url, data, args.timeout)
    except Failure as failure:
        print(f"{PROG}: {failure}", file=sys.stderr, flush=True)
        return failure.status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        return EX_TEMPFAIL
    return EX_OK


if __name__ == '__main__':
    sys.exit(main())
