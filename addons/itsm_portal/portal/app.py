# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
import hmac
import io
import secrets
from functools import cache, wraps
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, abort, g, redirect, render_template, request, url_for
from flask_tryton import Tryton
from trytond.exceptions import RateLimitException
from trytond.i18n import gettext
from trytond.transaction import Transaction, check_access

SESSION_COOKIE = 'itsm_portal_session'
CSRF_COOKIE = 'itsm_portal_csrf'
LOCALE_DIR = Path(__file__).parent / 'locale'


def create_app(database, config_file=None, secure_cookies=False):
    """Return the portal application for the Tryton database.

    The Tryton pool of the database must be importable in this process:
    create the application before any thread is started.
    """
    app = Flask(__name__)
    app.config.update(
        TRYTON_DATABASE=database,
        TRYTON_CONFIG=config_file,
        PORTAL_SECURE_COOKIES=secure_cookies,
        MAX_CONTENT_LENGTH=64 * 1024,
        )
    app.jinja_env.add_extension('jinja2.ext.i18n')
    # The catalog is chosen per request: look it up in g at each call so
    # that concurrent requests in other languages do not interfere.
    app.jinja_env.install_gettext_callables(
        lambda message: g.translations.gettext(message),
        lambda singular, plural, n: g.translations.ngettext(
            singular, plural, n),
        newstyle=True)
    tryton = Tryton(app)
    WebUser = tryton.pool.get('web.user')

    @tryton.transaction(user=0, readonly=True)
    def technical_user():
        return WebUser.portal_technical_user()
    with app.test_request_context():
        app.config['TRYTON_USER'] = technical_user()

    @tryton.default_context
    def default_context():
        Lang = tryton.pool.get('ir.lang')
        languages = Lang.get_translatable_languages()
        return {
            'language': request.accept_languages.best_match(languages) or 'en',
            }

    def transaction(func):
        "Run in a transaction of the portal's technical user"
        return tryton.transaction()(func)

    def login_required(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            user = WebUser.portal_session_user(
                request.cookies.get(SESSION_COOKIE))
            if not user:
                return redirect(url_for('login', next=request.path))
            g.web_user = user
            with Transaction().set_context(web_user=user.id), \
                    check_access():
                return func(*args, **kwargs)
        return wrapper

    @app.before_request
    def set_translations():
        g.language = request.accept_languages.best_match(
            _catalog_languages()) or 'en'
        g.translations = _translations(g.language)

    @app.context_processor
    def portal_globals():
        return {
            'csrf_token': _csrf_token(),
            'web_user': g.get('web_user'),
            'language': g.get('language', 'en'),
            }

    @app.after_request
    def security_headers(response):
        response.headers.setdefault('X-Frame-Options', 'DENY')
        response.headers.setdefault('X-Content-Type-Options', 'nosniff')
        response.headers.setdefault('Referrer-Policy', 'same-origin')
        response.headers.setdefault(
            'Content-Security-Policy',
            "default-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'")
        if g.get('new_csrf_token'):
            response.set_cookie(
                CSRF_COOKIE, g.new_csrf_token, httponly=True,
                samesite='Strict', secure=secure_cookies,
                path=request.script_root or '/')
        return response

    @app.route('/')
    @transaction
    @login_required
    def home():
        return render_template('home.html')

    @app.route('/login', methods=['GET', 'POST'])
    @transaction
    def login():
        error, status = None, 200
        next_url = _safe_next(request.values.get('next'))
        email = request.form.get('email', '')
        if request.method == 'POST':
            if not _csrf_valid():
                error, status = (
                    gettext('itsm_portal.msg_portal_form_expired'), 400)
            else:
                try:
                    key = WebUser.portal_login(
                        email, request.form.get('password', ''))
                except RateLimitException:
                    key = None
                    error, status = (
                        gettext('itsm_portal.msg_portal_rate_limited'), 429)
                else:
                    if key:
                        response = redirect(
                            request.script_root + next_url if next_url
                            else url_for('home'))
                        response.set_cookie(
                            SESSION_COOKIE, key, httponly=True,
                            samesite='Lax', secure=secure_cookies,
                            path=request.script_root or '/')
                        return response
                    error, status = (
                        gettext('itsm_portal.msg_portal_login_failed'), 401)
        return render_template(
            'login.html', error=error, email=email,
            next=next_url), status

    @app.route('/logout', methods=['POST'])
    @transaction
    def logout():
        if not _csrf_valid():
            abort(400)
        key = request.cookies.get(SESSION_COOKIE)
        if key:
            WebUser.portal_logout(key)
        response = redirect(url_for('login'))
        response.delete_cookie(SESSION_COOKIE, path=request.script_root or '/')
        return response

    @app.route('/health')
    def health():
        return {'status': 'ok'}

    return app


@cache
def _catalog_languages():
    "The languages the portal's own texts are translated to"
    return ['en'] + sorted(
        path.parent.parent.name
        for path in LOCALE_DIR.glob('*/LC_MESSAGES/portal.po'))


@cache
def _translations(language):
    """The portal's catalog for the language, compiled in memory.

    Only the .po sources are kept in the repository; compiling them here
    spares a build step.
    """
    path = LOCALE_DIR / language / 'LC_MESSAGES' / 'portal.po'
    if not path.exists():
        return NullTranslations()
    with open(path, 'rb') as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain='portal')


def _csrf_token():
    "The form token of this browser, made on first use (double submit)"
    token = request.cookies.get(CSRF_COOKIE) or g.get('new_csrf_token')
    if not token:
        token = g.new_csrf_token = secrets.token_urlsafe(32)
    return token


def _csrf_valid():
    cookie = request.cookies.get(CSRF_COOKIE, '')
    field = request.form.get('csrf_token', '')
    return bool(cookie) and hmac.compare_digest(cookie, field)


def _safe_next(path):
    "Keep a path to return to after login only if it stays in the portal"
    if path and path.startswith('/') and not path.startswith('//') \
            and '\\' not in path:
        return path
    return None
