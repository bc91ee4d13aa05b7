# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Real mail servers for the end-to-end tests, on 127.0.0.1.

    postfix(tmpdir, pipe_command, port, domain=HELPDESK_DOMAIN)
                                           a private Postfix piping every
                                           message for the domain to
                                           pipe_command
    dovecot(tmpdir, users, imap_port, pop3_port, ssl=False)
                                           a private Dovecot (IMAP, POP3)
    smtp_sink(port)                        an aiosmtpd server keeping messages
    swaks(*args)                           the swaks SMTP client
    free_port()                            a free TCP port on 127.0.0.1

Each server starts when called and returns an object that stops it with
``.stop()`` or as a context manager, killing every process it started even
when a test fails. A program that is not installed raises
``MissingProgram(reason)`` before anything is started; the tests turn it
into a skip (or a failure under ITSM_E2E=required).

Postfix and Dovecot start as root and drop to their own users (postfix,
dovecot, dovenull) and to the users they deliver as (``nobody``, a system
user ``itsm-mail`` created on first use): those must reach the instance's
files, so each instance lives in a directory of its own under the system's
temporary directory (pytest's tmp_path sits under a 0700 directory they
cannot traverse, and Dovecot's UNIX sockets must fit in 108 bytes). Its logs
are copied into tmpdir when it stops, and the directory is removed.
"""
import contextlib
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from itsm_tools.testing import SMTPSink, free_port

__all__ = ['MissingProgram', 'ProgramError', 'free_port', 'postfix',
    'dovecot', 'smtp_sink', 'swaks', 'mailgate_command', 'HELPDESK_DOMAIN',
    'PIPE_USER', 'MAIL_USER']

HELPDESK_DOMAIN = 'helpdesk.example.test'
# Postfix's pipe refuses to run a command as root or as mail_owner.
PIPE_USER = 'nobody'
MAIL_USER = 'itsm-mail'
SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin']
START_TIMEOUT = 20
STOP_TIMEOUT = 10
_LABEL = r'[a-z0-9]([a-z0-9-]*[a-z0-9])?'
_DOMAIN = re.compile(rf'{_LABEL}(\.{_LABEL})+', re.ASCII)

# A tiny supervisor that every server runs under. As a child subreaper
# (prctl PR_SET_CHILD_SUBREAPER) it adopts the daemons that fork away from
# it (the Postfix master, Dovecot's children once the master is gone), reaps
# them (this machine's PID 1 may not: they would stay zombies) and exits
# only when all of them are gone, so waiting for it means waiting for the
# whole server. On SIGTERM it SIGKILLs whatever is left.
_SUPERVISOR = r'''
import ctypes, os, signal, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
killing = False
def on_term(signum, frame):
    global killing
    killing = True
signal.signal(signal.SIGTERM, on_term)
def kill_children():
    me = str(os.getpid())
    for entry in os.listdir('/proc'):
        try:
            with open(f'/proc/{entry}/stat') as stat:
                fields = stat.read().rsplit(')', 1)[1].split()
            if fields[1] == me:
                os.kill(int(entry), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass
child = os.fork()
if child == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
status = 0
while True:
    try:
        pid, code = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == child:
        status = os.waitstatus_to_exitcode(code)
    elif pid == 0:
        if killing:
            kill_children()
        time.sleep(0.05)
sys.exit(status)
'''


class MissingProgram(Exception):
    "A program or system setting the server needs is not there"
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class ProgramError(RuntimeError):
    "A server that did not start, or a client that failed, with its output"


def _which(name, package=None, sbin=False):
    path = os.environ.get('PATH', os.defpath)
    if sbin:
        path = os.pathsep.join([path, *SBIN])
    found = shutil.which(name, path=path)
    if not found:
        raise MissingProgram(
            f"{name} is not installed (Debian package {package or name})")
    return found


def _need_root(what):
    if os.geteuid() != 0:
        raise MissingProgram(
            f"{what} must be started as root to drop to its own users")


def _need_user(name, package):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise MissingProgram(
            f"there is no user {name}: is the Debian package {package} "
            "installed and configured?")


def _mail_user():
    "The unprivileged user Dovecot reads and writes mailboxes as"
    try:
        return pwd.getpwnam(MAIL_USER)
    except KeyError:
        pass
    useradd = _which('useradd', 'passwd', sbin=True)
    result = subprocess.run([useradd, '--system', '--user-group',
            '--no-create-home', '--home-dir', '/nonexistent',
            '--shell', '/usr/sbin/nologin', MAIL_USER],
        capture_output=True, text=True)
    # 9: created meanwhile by a parallel test run.
    if result.returncode not in {0, 9}:
        raise ProgramError(f"useradd {MAIL_USER} failed: {result.stderr}")
    return pwd.getpwnam(MAIL_USER)


def _instance_dir(tmpdir, name):
    root = Path(tempfile.mkdtemp(prefix=f'itsm-{name}-'))
    root.chmod(0o755)
    tmpdir = Path(tmpdir)
    tmpdir.mkdir(parents=True, exist_ok=True)
    return root, tmpdir


def _wait_for_ports(ports, process, log, what):
    deadline = time.monotonic() + START_TIMEOUT
    waiting = list(ports)
    while waiting:
        try:
            with socket.create_connection(('127.0.0.1', waiting[0]), 0.5):
                waiting.pop(0)
                continue
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise ProgramError(
                f"{what} did not listen on 127.0.0.1:{waiting[0]}:\n{log()}")
        time.sleep(0.05)


def _read(path):
    try:
        return Path(path).read_text(errors='replace')
    except FileNotFoundError:
        return ''


class _Server:
    "A server running under the supervisor in its own directory"
    name = 'server'
    logs = ()

    def __init__(self, root, tmpdir):
        self.root = root
        self.tmpdir = tmpdir
        self.process = None
        self.stopped = False

    def _supervise(self, command, env=None):
        with open(self.root / 'output', 'ab') as output:
            self.process = subprocess.Popen(
                [sys.executable, '-c', _SUPERVISOR, *command],
                stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def log(self):
        "The server's log and start-up output"
        return ''.join(_read(self.root / name)
            for name in [*self.logs, 'output'])

    def wait_for_log(self, pattern, timeout=15):
        "Wait until the log matches the regular expression; return the match"
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log())
            if match:
                return match
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{pattern!r} not in the {self.name} log:\n{self.log()}")
            time.sleep(0.1)

    def _shutdown(self):
        "Ask the server to stop"

    def stop(self):
        "Stop the server, kill what is left, keep its logs in tmpdir"
        if self.stopped:
            return
        self.stopped = True
        try:
            if self.process and self.process.poll() is None:
                try:
                    self._shutdown()
                except Exception:
                    pass
                try:
                    self.process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.process.terminate()
                    try:
                        self.process.wait(timeout=STOP_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        os.killpg(self.process.pid, signal.SIGKILL)
                        self.process.wait()
        finally:
            with contextlib.suppress(OSError):
                (self.tmpdir / f'{self.name}.log').write_text(self.log())
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _pipe_argv(command):
    # master.cf splits argv= on white space; Postfix >= 3.0 keeps
    # "{ text with spaces }" as one argument.
    words = []
    for word in command:
        word = str(word)
        if '\n' in word or (('}' in word or '{' in word)
                and re.search(r'\s', word)):
            raise ValueError(f"cannot pass {word!r} to Postfix's pipe")
        if not word or re.search(r'\s', word) or word.startswith('{'):
            word = f'{{ {word} }}'
        words.append(word)
    return ' '.join(words)


class Postfix(_Server):
    name = 'postfix'
    logs = ('maillog',)

    def __init__(self, tmpdir, pipe_command, port, user, flags, domain):
        _need_root("Postfix")
        if not _DOMAIN.fullmatch(domain):
            raise ValueError(f"not a mail domain: {domain!r}")
        self.postfix = _which('postfix', sbin=True)
        self.postqueue = _which('postqueue', 'postfix', sbin=True)
        _need_user('postfix', 'postfix')
        _need_user(user, 'base-passwd')
        try:
            grp.getgrnam('postdrop')
        except KeyError:
            raise MissingProgram("there is no group postdrop: is the "
                "Debian package postfix installed and configured?")
        super().__init__(*_instance_dir(tmpdir, 'postfix'))
        self.port = port
        self.domain = domain
        self.config_dir = self.root / 'etc'
        self.queue_dir = self.root / 'spool'
        self.data_dir = self.root / 'data'
        try:
            self._configure(pipe_command, user, flags)
            # "postfix -c DIR start" as root needs no change in /etc:
            # alternate_config_directories (in /etc/postfix/main.cf) only
            # authorises other users' set-gid postqueue/postdrop -c DIR, and
            # multi_instance_directories only postmulti. The default
            # main.cf is read when it exists (and is not needed when the
            # Debian package was installed with "No configuration").
            self._supervise([self.postfix, '-c', self.config_dir, 'start'])
            _wait_for_ports([port], self.process, self.log, "Postfix")
        except BaseException:
            self.stop()
            raise

    def _configure(self, pipe_command, user, flags):
        postfix = pwd.getpwnam('postfix')
        for path in [self.config_dir, self.queue_dir, self.data_dir]:
            path.mkdir(mode=0o755)
        os.chown(self.data_dir, postfix.pw_uid, postfix.pw_gid)
        (self.config_dir / 'main.cf').write_text(f"""\
compatibility_level = 3.6
mail_owner = postfix
setgid_group = postdrop
queue_directory = {self.queue_dir}
data_directory = {self.data_dir}
# Postfix >= 3.4 logs to a file through postlogd (see master.cf), which
# accepts only files under maillog_file_prefixes.
maillog_file = {self.root}/maillog
maillog_file_prefixes = {self.root}
myhostname = mail.{self.domain}
mydomain = {self.domain}
myorigin = $myhostname
mydestination = {self.domain}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
# Every local part (helpdesk, helpdesk+TCK-00001, ...) is accepted and
# goes to the mail gate, one recipient per delivery so that the
# Delivered-To header and ${{recipient}} name that recipient.
local_recipient_maps =
local_transport = mailgate
mailgate_destination_recipient_limit = 1
recipient_delimiter = +
alias_maps =
alias_database =
# Nothing leaves this machine: bounces to outside senders fail at once.
default_transport = error:5.7.1 this test mail system delivers nowhere else
relay_transport = $default_transport
smtpd_peername_lookup = no
biff = no
""")
        argv = _pipe_argv(pipe_command)
        (self.config_dir / 'master.cf').write_text(f"""\
# service type private unpriv chroot wakeup maxproc command
127.0.0.1:{self.port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
mailgate unix - n n - - pipe flags={flags} user={user} argv={argv}
""")

    def _shutdown(self):
        subprocess.run([self.postfix, '-c', self.config_dir, 'stop'],
            capture_output=True, timeout=STOP_TIMEOUT)

    def queue(self):
        "The mail queue as `postqueue -p` lists it"
        return subprocess.run([self.postqueue, '-c', self.config_dir, '-p'],
            capture_output=True, text=True, timeout=30).stdout

    def flush(self):
        "Retry the deferred messages now"
        subprocess.run([self.postqueue, '-c', self.config_dir, '-f'],
            capture_output=True, check=True, timeout=30)


def postfix(tmpdir, pipe_command, port, *, user=PIPE_USER, flags='DORq',
        domain=HELPDESK_DOMAIN):
    """Start a private Postfix on 127.0.0.1:port.

    Every message for any address at domain (plus-addresses included) is
    piped to pipe_command (a list: program and arguments,
    where Postfix expands ${recipient}, ${extension}, ... and $$ is a
    dollar) running as user; flags D and O add Delivered-To and
    X-Original-To headers with the recipient. Mail for anywhere else
    bounces at once. The object has .port, .domain, .queue_dir,
    .config_dir, .log(), .wait_for_log(regex), .queue(), .flush() and
    .stop().
    """
    return Postfix(tmpdir, pipe_command, port, user, flags, domain)


def mailgate_command(url, user=PIPE_USER, timeout=10):
    """The command line that runs `itsm-mailgate --url url` as user.

    The venv's console script when user can run it; otherwise (a venv or
    a checkout under a folder only root enters: /root, mktemp -d) a copy of
    the gate in a folder anyone reads, run by the system's python3, which
    is enough: the gate needs only the standard library.
    """
    args = ['--url', url, '--timeout', str(timeout)]
    script = Path(sys.executable).parent / 'itsm-mailgate'
    if script.exists():
        probe = ['runuser', '-u', user, '--', script, '--help']
        if os.geteuid() != 0:
            probe = [script, '--help']
        result = subprocess.run(probe, capture_output=True)
        if result.returncode == 0:
            return [str(script), *args]
    python = shutil.which('python3', path='/usr/bin:/bin')
    if not python:
        raise MissingProgram(f"{user} cannot run {script} and there is no "
            "/usr/bin/python3 to run the mail gate with")
    folder = Path(tempfile.mkdtemp(prefix='itsm-mailgate-'))
    folder.chmod(0o755)
    gate = folder / 'mailgate.py'
    shutil.copyfile(Path(__file__).with_name('mailgate.py'), gate)
    gate.chmod(0o644)
    return [python, str(gate), *args]


class Dovecot(_Server):
    name = 'dovecot'
    logs = ('dovecot.log',)

    def __init__(self, tmpdir, users, imap_port, pop3_port, ssl,
            imaps_port, pop3s_port):
        _need_root("Dovecot")
        self.dovecot = _which('dovecot', 'dovecot-core', sbin=True)
        for protocol in ['imap', 'pop3']:
            if not any(Path(directory, protocol).exists() for directory in
                    ['/usr/lib/dovecot', '/usr/libexec/dovecot']):
                raise MissingProgram(f"Dovecot's {protocol} server is not "
                    f"installed (Debian package dovecot-{protocol}d)")
        _need_user('dovecot', 'dovecot-core')
        _need_user('dovenull', 'dovecot-core')
        openssl = _which('openssl') if ssl else None
        mail_user = _mail_user()
        super().__init__(*_instance_dir(tmpdir, 'dovecot'))
        self.users = dict(users)
        self.imap_port = imap_port
        self.pop3_port = pop3_port
        self.ssl = ssl
        self.imaps_port = (imaps_port or free_port()) if ssl else None
        self.pop3s_port = (pop3s_port or free_port()) if ssl else None
        self.config = self.root / 'dovecot.conf'
        self.mail_dir = self.root / 'mail'
        self.cert = self.root / 'cert.pem'
        try:
            if ssl:
                self._certificate(openssl)
            self._configure(mail_user)
            self._supervise([self.dovecot, '-F', '-c', self.config])
            ports = [imap_port, pop3_port]
            if ssl:
                ports += [self.imaps_port, self.pop3s_port]
            _wait_for_ports(ports, self.process, self.log, "Dovecot")
        except BaseException:
            self.stop()
            raise

    def _certificate(self, openssl):
        result = subprocess.run([openssl, 'req', '-x509', '-newkey',
                'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
                '-addext', 'subjectAltName=IP:127.0.0.1',
                '-keyout', self.root / 'key.pem', '-out', self.cert],
            capture_output=True, text=True, timeout=60)
        if result.returncode:
            raise ProgramError(f"openssl req failed: {result.stderr}")

    def _configure(self, mail_user):
        for name in self.users:
            if not re.fullmatch(r'[\w.@+-]+', name):
                raise ValueError(f"unsupported user name: {name!r}")
        for password in self.users.values():
            if re.search(r'[:\s]', password):
                raise ValueError("passwords cannot hold ':' or white space")
        self.mail_dir.mkdir()
        os.chown(self.mail_dir, mail_user.pw_uid, mail_user.pw_gid)
        passwd = self.root / 'users'
        passwd.write_text(''.join(f"{name}:{{PLAIN}}{password}::::::\n"
                for name, password in self.users.items()))
        # Only the auth process (running as dovecot) reads the passwords.
        passwd.chmod(0o600)
        dovecot_user = pwd.getpwnam('dovecot')
        os.chown(passwd, dovecot_user.pw_uid, dovecot_user.pw_gid)
        if self.ssl:
            ssl = (f"ssl = yes\nssl_cert = <{self.cert}\n"
                f"ssl_key = <{self.root / 'key.pem'}\n")
        else:
            ssl = "ssl = no\n"
        imaps = self.imaps_port or 0
        pop3s = self.pop3s_port or 0
        # Nothing is included from /etc/dovecot: this file is the whole
        # configuration, and base_dir/state_dir keep it apart from a system
        # Dovecot.
        self.config.write_text(f"""\
protocols = imap pop3
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = itsm-{self.root.name}
log_path = {self.root}/dovecot.log
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
# System users have small uids, below Dovecot's default of 500.
first_valid_uid = {mail_user.pw_uid}
last_valid_uid = {mail_user.pw_uid}
first_valid_gid = {mail_user.pw_gid}
last_valid_gid = {mail_user.pw_gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={self.mail_dir}/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
""")

    def _shutdown(self):
        pid = int(_read(self.root / 'run' / 'master.pid').split()[0])
        os.kill(pid, signal.SIGTERM)

    def maildir(self, user):
        "The user's Maildir (it exists once the user has logged in)"
        return self.mail_dir / user / 'Maildir'

    def imap(self, user):
        "An IMAP connection (plain) logged in as user"
        connection = imaplib.IMAP4('127.0.0.1', self.imap_port, timeout=10)
        try:
            connection.login(user, self.users[user])
        except BaseException:
            connection.shutdown()
            raise
        return connection

    def deliver(self, user, raw, folder='INBOX'):
        "Append the raw message to the user's folder; return its UID"
        connection = self.imap(user)
        try:
            if folder.upper() != 'INBOX':
                connection.create(folder)
            status, data = connection.append(folder, None, None, raw)
            if status != 'OK':
                raise ProgramError(f"APPEND to {folder} failed: {data}")
        finally:
            connection.logout()
        match = re.search(rb'APPENDUID \d+ (\d+)', data[0] or b'')
        return int(match.group(1)) if match else None


def dovecot(tmpdir, users, imap_port, pop3_port, *, ssl=False,
        imaps_port=None, pop3s_port=None):
    """Start a private Dovecot serving IMAP and POP3 on 127.0.0.1.

    users maps user names to plain-text passwords (PLAIN and LOGIN
    accepted without TLS). With ssl=True it also offers STARTTLS/STLS and
    IMAPS/POP3S (.imaps_port, .pop3s_port) with a self-signed certificate
    (.cert) for 127.0.0.1. The object has .imap_port, .pop3_port,
    .deliver(user, raw_bytes, folder='INBOX'), .imap(user), .maildir(user),
    .log(), .wait_for_log(regex) and .stop().
    """
    return Dovecot(tmpdir, users, imap_port, pop3_port, ssl, imaps_port,
        pop3s_port)


def smtp_sink(port=None):
    """Start an SMTP server on 127.0.0.1:port (a free one by default).

    .messages lists (mail_from, rcpt_tos, raw bytes) as received.
    """
    try:
        return SMTPSink(port)
    except ImportError:
        raise MissingProgram("the aiosmtpd package is not installed")


def swaks(*args, check=True, timeout=60):
    "Run swaks with the arguments; return its output (stdout and stderr)"
    program = _which('swaks')
    result = subprocess.run([program, *map(str, args)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and result.returncode:
        raise ProgramError(
            f"swaks exited with {result.returncode}:\n{result.stdout}")
    return result.stdout
