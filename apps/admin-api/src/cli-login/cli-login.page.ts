import { createHash } from 'node:crypto';

/**
 * The approval page of `kre login --email`, rendered on the server: a plain form, no script (the
 * CSP allows none), its one style block by hash. The mailed link's token rides in the form (a
 * hidden field) and the URL's query; a mail scanner fetching the link consumes nothing: only the
 * form's POST with the code the CLI shows approves.
 */
const STYLE =
  'body{font-family:sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem}' +
  'input[name=code]{font-family:monospace;font-size:1.4rem;letter-spacing:.2rem;width:11rem}' +
  '.error{color:#a00}.muted{color:#555}button{margin-right:.5rem}';

export const CLI_LOGIN_PAGE_HEADERS: Record<string, string> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  // The token is in the URL: never sent on as a referrer.
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>KRE</h1>
${body}
</body>
</html>
`;
}

export interface ApprovalView {
  token: string;
  email: string;
  ip: string;
  createdAt: string;
  expiresAt: string;
  /** The last try's problem (a wrong code). */
  error?: string;
}

/** Whose account, from where, and the code to type. */
export function approvalPage(view: ApprovalView): string {
  return page(
    'Approve a kre sign-in',
    `<p>A <code>kre</code> command asks to sign in to KRE as <strong id="account">${escapeHtml(view.email)}</strong>.</p>
<p class="muted">Asked from ${escapeHtml(view.ip || 'an unknown address')} at ${escapeHtml(view.createdAt)}; this request ends at ${escapeHtml(view.expiresAt)}.</p>
<p>Approve only if you just ran <code>kre login</code> yourself: type the code your terminal shows. If you did not, deny: whoever started it would be signed in as you.</p>
${view.error ? `<p class="error" id="error" role="alert">${escapeHtml(view.error)}</p>` : ''}
<form method="post" action="cli-login">
<input type="hidden" name="token" value="${escapeHtml(view.token)}">
<p><label>Code <input name="code" autocomplete="off" autocapitalize="characters" spellcheck="false" placeholder="BCDF-GHJK" maxlength="12"></label></p>
<p><button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button></p>
</form>`,
  );
}

/** The end of the exchange: approved, denied, or a request that is gone. */
export function resultPage(result: 'approved' | 'denied' | 'gone', email?: string): string {
  const text = {
    approved: `Approved: the kre command is signed in as <strong>${escapeHtml(email ?? '')}</strong>. You can close this page.`,
    denied: 'Denied: the kre command that asked is not signed in. You can close this page.',
    gone: 'This sign-in request has expired or was already used. Run <code>kre login --email &lt;address&gt;</code> again for a new one.',
  }[result];
  return page('kre sign-in', `<p id="result" data-result="${result}">${text}</p>`);
}
