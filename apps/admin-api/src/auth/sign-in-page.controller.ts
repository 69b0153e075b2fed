import { createHash } from 'node:crypto';
import { Controller, Get, Header } from '@nestjs/common';
import { Public } from './access.decorators.js';

// Runs in the browser: the token is in the URL fragment, which never reaches a server, so a
// mail scanner that fetches the link consumes nothing. The page first asks whose account the
// link opens (inspect consumes nothing) and signs in only when the person clicks the button:
// a link someone else requested (login CSRF) cannot sign this browser into their account
// unseen. Programs (curl, the CLI) POST /api/v1/auth/signin/verify directly.
const SCRIPT = `
const status = document.getElementById('status');
const confirmation = document.getElementById('confirm');
const account = document.getElementById('account');
const button = document.getElementById('signin');
const form = document.getElementById('request');
const token = location.hash.slice(1);
history.replaceState(null, '', location.pathname);
const post = (path, body) => fetch('/api/v1/auth/' + path, {
  method: 'POST', credentials: 'same-origin',
  headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
});
const fail = (why) => {
  status.textContent = 'Sign-in failed: ' + why + '.'; status.dataset.result = 'failed';
  confirmation.hidden = true; form.hidden = false;
};
if (token) {
  status.textContent = 'Checking the link…';
  post('signin/inspect', { token }).then(async (res) => {
    const body = await res.json().catch(() => ({}));
    if (!res.ok) return fail(body.message || res.status);
    account.textContent = body.email;
    status.textContent = '';
    confirmation.hidden = false;
  }, () => fail('the server did not answer'));
} else {
  form.hidden = false;
}
button.addEventListener('click', () => {
  button.disabled = true;
  status.textContent = 'Signing in…';
  post('signin/verify', { token }).then(async (res) => {
    const body = await res.json().catch(() => ({}));
    if (!res.ok) return fail(body.message || res.status);
    confirmation.hidden = true;
    status.textContent = 'You are signed in as ' + body.user.email + '.'; status.dataset.result = 'ok';
  }, () => fail('the server did not answer'));
});
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const res = await post('signin', { email: form.email.value });
  const body = await res.json().catch(() => ({}));
  status.textContent = res.ok ? body.message : 'Could not request a link: ' + (body.message || res.status);
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to KRE</title>
</head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 4rem auto">
<h1>KRE</h1>
<p id="status" role="status"></p>
<div id="confirm" hidden>
<p>Sign in to KRE as <strong id="account"></strong>?</p>
<p>Continue only if this is your account and you asked for this link. If someone sent you this
link, close this page: it would sign this browser into their account.</p>
<button type="button" id="signin">Sign in</button>
</div>
<form id="request" hidden>
<label>Email <input name="email" type="email" required autocomplete="email"></label>
<button type="submit">Email me a sign-in link</button>
</form>
<script>${SCRIPT}</script>
</body>
</html>
`;

const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('base64');

/**
 * A minimal sign-in page until the portal exists, so the emailed link works for people today: it
 * shows whose account the link opens and signs in on a click.
 */
@Controller('signin')
export class SignInPageController {
  @Get()
  @Public()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @Header('Referrer-Policy', 'no-referrer')
  @Header('X-Frame-Options', 'DENY')
  @Header(
    'Content-Security-Policy',
    `default-src 'none'; script-src 'sha256-${SCRIPT_HASH}'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
  )
  page(): string {
    return PAGE;
  }
}
