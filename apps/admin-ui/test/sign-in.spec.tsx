import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SignInPage } from '../src/pages/sign-in.tsx';

type Answer = { status: number; body: unknown };

/** admin-api's sign-in routes as this page sees them: each call recorded, answers scripted. */
function serveAuth(answers: Record<string, Answer>) {
  const calls: { path: string; body: unknown }[] = [];
  const fetchStub = vi.fn((path: string, init: RequestInit) => {
    calls.push({
      path: path.replace('/api/v1/auth/', ''),
      body: JSON.parse(init.body as string) as unknown,
    });
    const answer = answers[path.replace('/api/v1/auth/', '')] ?? { status: 404, body: {} };
    return Promise.resolve(
      new Response(JSON.stringify(answer.body), {
        status: answer.status,
        headers: { 'content-type': 'application/json' },
      }),
    );
  });
  vi.stubGlobal('fetch', fetchStub);
  return calls;
}

describe(SignInPage.name, () => {
  beforeEach(() => window.history.replaceState(null, '', '/signin'));
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });

  it('with a link: asks whose account it opens (inspect only), signs in only on the click', async () => {
    window.history.replaceState(null, '', '/signin#tok-123');
    const calls = serveAuth({
      'signin/inspect': { status: 200, body: { email: 'ada@example.com' } },
      'signin/verify': {
        status: 200,
        body: { message: 'signed in', user: { id: 'u1', email: 'ada@example.com' } },
      },
    });
    const onSignedIn = vi.fn();
    render(<SignInPage onSignedIn={onSignedIn} />);

    expect(await screen.findByText(/Sign in to KRE as/)).toBeTruthy();
    expect(screen.getByTestId('account').textContent).toBe('ada@example.com');
    expect(calls).toEqual([{ path: 'signin/inspect', body: { token: 'tok-123' } }]);
    // The token leaves the address bar at once.
    expect(window.location.hash).toBe('');
    expect(onSignedIn).not.toHaveBeenCalled();

    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText(/You are signed in as/)).toBeTruthy();
    expect(calls.map((c) => c.path)).toEqual(['signin/inspect', 'signin/verify']);
    expect(calls[1]!.body).toEqual({ token: 'tok-123' });
    expect(onSignedIn).toHaveBeenCalledOnce();
    expect(screen.getByRole('link', { name: 'Open your runtimes' }).getAttribute('href')).toBe('/');
  });

  it('with an unusable link: says why, never verifies, and offers a new link', async () => {
    window.history.replaceState(null, '', '/signin#bad');
    const message = 'this sign-in link is invalid or has expired: request a new one';
    const calls = serveAuth({
      'signin/inspect': { status: 400, body: { code: 'INVALID_OR_EXPIRED_LINK', message } },
    });
    render(<SignInPage onSignedIn={() => undefined} />);
    expect((await screen.findByRole('alert')).textContent).toBe(`Sign-in failed: ${message}.`);
    expect(calls.map((c) => c.path)).toEqual(['signin/inspect']);
    expect(screen.queryByRole('button', { name: 'Sign in' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Email me a sign-in link' })).toBeTruthy();
  });

  it('without a link: the email form, then "check your mail"', async () => {
    const accepted = 'If this address may sign in to KRE, a sign-in link is on its way to it.';
    const calls = serveAuth({ signin: { status: 202, body: { message: accepted } } });
    render(<SignInPage onSignedIn={() => undefined} />);
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.click(screen.getByRole('button', { name: 'Email me a sign-in link' }));
    expect(await screen.findByRole('heading', { name: 'Check your mail' })).toBeTruthy();
    expect(screen.getByText(accepted)).toBeTruthy();
    expect(calls).toEqual([{ path: 'signin', body: { email: 'ada@example.com' } }]);
  });

  it('a refused request says why, and keeps the form', async () => {
    serveAuth({
      signin: { status: 429, body: { message: 'too many sign-in requests: retry later' } },
    });
    render(<SignInPage onSignedIn={() => undefined} />);
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.click(screen.getByRole('button', { name: 'Email me a sign-in link' }));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'Could not request a link: too many sign-in requests: retry later',
    );
    expect(screen.getByLabelText('Email')).toBeTruthy();
  });
  it('a link opened in the tab that asked for it (only the fragment changes) is checked too', async () => {
    const calls = serveAuth({
      signin: { status: 202, body: { message: 'on its way' } },
      'signin/inspect': { status: 200, body: { email: 'ada@example.com' } },
    });
    render(<SignInPage onSignedIn={() => undefined} />);
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.click(screen.getByRole('button', { name: 'Email me a sign-in link' }));
    await screen.findByRole('heading', { name: 'Check your mail' });
    window.location.hash = '#tok-456';
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    expect(await screen.findByText(/Sign in to KRE as/)).toBeTruthy();
    expect(calls.map((c) => c.path)).toEqual(['signin', 'signin/inspect']);
    expect(calls[1]!.body).toEqual({ token: 'tok-456' });
  });
});
