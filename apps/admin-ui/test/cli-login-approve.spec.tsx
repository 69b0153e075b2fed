import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CliLoginApprove, normalizeCode } from '../src/components/cli-login-approve.tsx';
import { RestError } from '../src/rest.ts';

describe(CliLoginApprove.name, () => {
  afterEach(cleanup);

  it('says whose account the approval signs the command in as', () => {
    render(<CliLoginApprove email="ada@x.test" approve={vi.fn()} />);
    expect(screen.getByTestId('cli-login-account').textContent).toBe('ada@x.test');
  });

  it('normalizes the code as the command shows it; refuses what cannot be one, unsent', async () => {
    expect(normalizeCode(' bcdf ghjk ')).toBe('BCDF-GHJK');
    expect(normalizeCode('BCDF-GHJA')).toBeNull(); // a vowel: never in a code
    const approve = vi.fn();
    render(<CliLoginApprove email="ada@x.test" approve={approve} />);
    await userEvent.type(screen.getByLabelText('Code from the terminal'), '1234');
    await userEvent.click(screen.getByRole('button', { name: 'Approve' }));
    expect(screen.getByRole('alert').textContent).toMatch(/That is not a code: it is 8 letters/);
    expect(approve).not.toHaveBeenCalled();
  });

  it('approves a code, then says the command is signed in', async () => {
    const approve = vi.fn(() => Promise.resolve({ email: 'ada@x.test' }));
    render(<CliLoginApprove email="ada@x.test" approve={approve} />);
    await userEvent.type(screen.getByLabelText('Code from the terminal'), 'bcdfghjk');
    await userEvent.click(screen.getByRole('button', { name: 'Approve' }));
    expect(approve).toHaveBeenCalledWith('BCDF-GHJK');
    expect((await screen.findByRole('status')).textContent).toBe(
      'Approved: the kre command is signed in as ada@x.test. Go back to your terminal.',
    );
    expect(screen.queryByRole('button', { name: 'Approve' })).toBeNull();
  });

  it('a wrong, expired or used code gets one clear answer', async () => {
    const gone = new RestError('this sign-in request has expired or was already used', 400, {
      code: 'INVALID_OR_EXPIRED_LINK',
    });
    render(<CliLoginApprove email="ada@x.test" approve={() => Promise.reject(gone)} />);
    await userEvent.type(screen.getByLabelText('Code from the terminal'), 'BCDF-GHJK');
    await userEvent.click(screen.getByRole('button', { name: 'Approve' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(
      /No kre login waits for this code: it is mistyped, expired, or was already used/,
    );
    expect(screen.getByLabelText('Code from the terminal').getAttribute('aria-invalid')).toBe(
      'true',
    );
  });

  it('a code asked for another account shows admin-api’s reason', async () => {
    const other = new RestError('this code asks to sign in as another account than yours', 403, {
      code: 'FORBIDDEN',
      reason: 'WRONG_APPROVER',
    });
    render(<CliLoginApprove email="ada@x.test" approve={() => Promise.reject(other)} />);
    await userEvent.type(screen.getByLabelText('Code from the terminal'), 'BCDF-GHJK');
    await userEvent.click(screen.getByRole('button', { name: 'Approve' }));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'this code asks to sign in as another account than yours',
    );
  });
});
