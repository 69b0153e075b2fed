import { cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsersTable, type AdminUser } from '../src/components/users-table.tsx';

const USERS: AdminUser[] = [
  { id: 'u-me', email: 'me@x.test', platformRole: 'ADMIN', lastActivity: null, activeSessions: 1 },
  { id: 'u-ada', email: 'ada@x.test', platformRole: 'USER', lastActivity: null, activeSessions: 2 },
];

describe(UsersTable.name, () => {
  afterEach(cleanup);

  it('offers no action on your own account', () => {
    render(<UsersTable users={USERS} meId="u-me" onAction={vi.fn()} />);
    const mine = screen.getByTestId('user-me@x.test');
    expect(within(mine).queryByRole('button')).toBeNull();
    expect(within(screen.getByTestId('user-ada@x.test')).getAllByRole('button')).toHaveLength(3);
  });

  it('removing a user says what it does and needs a comment', async () => {
    const onAction = vi.fn(() => Promise.resolve());
    render(<UsersTable users={USERS} meId="u-me" onAction={onAction} />);
    await userEvent.click(screen.getByRole('button', { name: 'Remove ada@x.test' }));
    expect(screen.getByRole('alert').textContent).toMatch(
      /Removing ada@x.test ends their sessions, deletes their API tokens/,
    );
    await userEvent.click(screen.getByRole('button', { name: 'Confirm removal' }));
    expect(onAction).not.toHaveBeenCalled();
    expect(screen.getByText('Comment is required (why: kept in the audit log)')).toBeTruthy();
    await userEvent.type(screen.getByLabelText(/^Comment/), 'left the team');
    await userEvent.click(screen.getByRole('button', { name: 'Confirm removal' }));
    expect(onAction).toHaveBeenCalledWith('u-ada', { kind: 'remove' }, 'left the team');
    expect((await screen.findByRole('status')).textContent).toBe('ada@x.test is removed.');
  });

  it('changes a platform role, and revokes sessions with or without the API tokens', async () => {
    const onAction = vi.fn(() => Promise.resolve());
    render(<UsersTable users={USERS} meId="u-me" onAction={onAction} />);
    await userEvent.click(screen.getByRole('button', { name: 'Change role of ada@x.test' }));
    expect(screen.getByLabelText<HTMLSelectElement>('New platform role').value).toBe('ADMIN');
    await userEvent.type(screen.getByLabelText(/^Comment/), 'runs the platform now');
    await userEvent.click(screen.getByRole('button', { name: 'Confirm: make them ADMIN' }));
    expect(onAction).toHaveBeenLastCalledWith(
      'u-ada',
      { kind: 'role', platformRole: 'ADMIN' },
      'runs the platform now',
    );

    await userEvent.click(await screen.findByRole('button', { name: 'Sign out ada@x.test' }));
    await userEvent.click(screen.getByLabelText(/Also delete their API tokens/));
    await userEvent.type(screen.getByLabelText(/^Comment/), 'lost laptop');
    await userEvent.click(screen.getByRole('button', { name: 'Confirm sign-out' }));
    expect(onAction).toHaveBeenLastCalledWith(
      'u-ada',
      { kind: 'revoke', includeApiTokens: true },
      'lost laptop',
    );
    expect((await screen.findByRole('status')).textContent).toBe(
      'ada@x.test is signed out everywhere, their API tokens deleted.',
    );
  });

  it('a refusal is shown and the form stays', async () => {
    const onAction = vi.fn(() => Promise.reject(new Error('you cannot remove the last admin')));
    render(<UsersTable users={USERS} meId="u-me" onAction={onAction} />);
    await userEvent.click(screen.getByRole('button', { name: 'Remove ada@x.test' }));
    await userEvent.type(screen.getByLabelText(/^Comment/), 'x');
    await userEvent.click(screen.getByRole('button', { name: 'Confirm removal' }));
    expect(await screen.findByText('you cannot remove the last admin')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Confirm removal' })).toBeTruthy();
  });
});
