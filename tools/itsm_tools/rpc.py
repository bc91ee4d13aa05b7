"""A JSON-RPC client of the Tryton server, for scripts, benchmarks and the
end-to-end tests: it logs in and calls as sao does."""
import base64
import gzip
import json
import urllib.request


class RPCError(Exception):
    "The server answered with an error"

    def __init__(self, error):
        super().__init__(error)
        self.error = error


class Client:
    "A JSON-RPC client that logs in like sao"

    def __init__(self, base, database, login, password):
        self.url = f'{base}/{database}/rpc/'
        self.context = {}
        self.auth = None
        uid, session = self.call(
            'common.db.login', login, {'password': password}, 'en')[:2]
        token = base64.b64encode(f'{login}:{uid}:{session}'.encode())
        self.auth = 'Session ' + token.decode()
        self.uid = uid
        self.context = self.call('model.res.user.get_preferences', True, {})

    def call(self, method, *params):
        body = json.dumps(
            {'id': 1, 'method': method, 'params': list(params)},
            default=str).encode()
        # As a browser does: trytond streams large answers gzipped, and
        # token by token otherwise.
        request = urllib.request.Request(self.url, data=body, headers={
                'Content-Type': 'application/json',
                'Accept-Encoding': 'gzip',
                **({'Authorization': self.auth} if self.auth else {})})
        with urllib.request.urlopen(request) as response:
            data = response.read()
            if response.headers.get('Content-Encoding') == 'gzip':
                data = gzip.decompress(data)
            answer = json.loads(data)
        if answer.get('error'):
            raise RPCError(answer['error'])
        return answer['result']

    def model(self, name, method, *args):
        "Call a model method with the user's context"
        return self.call(f'model.{name}.{method}', *args, self.context)
