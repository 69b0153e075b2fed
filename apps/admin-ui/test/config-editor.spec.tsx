import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigEditor, type ConfigVar } from '../src/components/config-editor.tsx';

const MANAGER_VIEW: ConfigVar[] = [
  { key: 'GREETING', type: 'VARIABLE', isSet: true, value: 'Hello' },
  { key: 'MODEL', type: 'FILE', isSet: false, value: null },
];
// What admin-api sends a VIEWER: keys and whether each is set, never a value.
const VIEWER_VIEW: ConfigVar[] = MANAGER_VIEW.map((v) => ({ ...v, value: null }));

describe(ConfigEditor.name, () => {
  afterEach(cleanup);

  it('a VIEWER sees the keys and whether each is set, no value, no field and no save button', () => {
    render(<ConfigEditor vars={VIEWER_VIEW} status="STOPPED" canEdit={false} onSave={vi.fn()} />);
    expect(screen.getByTestId('values-hidden')).toBeTruthy();
    expect(screen.getByText('GREETING')).toBeTruthy();
    expect(screen.queryByRole('textbox')).toBeNull();
    expect(screen.queryByRole('button')).toBeNull();
    expect(document.body.textContent).not.toContain('Hello');
  });

  it('a MANAGER edits a variable and a file; a stopped version saves at once', async () => {
    const onSave = vi.fn(() => Promise.resolve());
    render(<ConfigEditor vars={MANAGER_VIEW} status="STOPPED" canEdit onSave={onSave} />);
    const greeting = screen.getByLabelText(/GREETING/);
    expect((greeting as HTMLInputElement).value).toBe('Hello');
    expect(screen.getByRole('button', { name: /Save/ }).hasAttribute('disabled')).toBe(true);
    await userEvent.clear(greeting);
    await userEvent.type(greeting, 'Hi');
    await userEvent.type(screen.getByLabelText(/MODEL/), 'weights');
    await userEvent.click(screen.getByRole('button', { name: 'Save 2 changes' }));
    expect(onSave).toHaveBeenCalledWith([
      { key: 'GREETING', value: 'Hi' },
      { key: 'MODEL', value: 'weights' },
    ]);
    expect(await screen.findByText('Saved.')).toBeTruthy();
  });

  it('a running version asks first: saving restarts it; cancel saves nothing', async () => {
    const onSave = vi.fn(() => Promise.resolve());
    render(<ConfigEditor vars={MANAGER_VIEW} status="PUBLISHED" canEdit onSave={onSave} />);
    await userEvent.type(screen.getByLabelText(/GREETING/), '!');
    await userEvent.click(screen.getByRole('button', { name: 'Save 1 change' }));
    const dialog = screen.getByRole('alertdialog');
    expect(dialog.textContent).toContain('The version is PUBLISHED: saving restarts its workloads');
    expect(onSave).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(onSave).not.toHaveBeenCalled();

    await userEvent.click(screen.getByRole('button', { name: 'Save 1 change' }));
    await userEvent.click(screen.getByRole('button', { name: 'Save and restart' }));
    expect(onSave).toHaveBeenCalledWith([{ key: 'GREETING', value: 'Hello!' }]);
  });

  it('a refused save shows admin-api’s reason and keeps the edits', async () => {
    const onSave = vi.fn(() => Promise.reject(new Error('unknown key "NOPE"')));
    render(<ConfigEditor vars={MANAGER_VIEW} status="CREATED" canEdit onSave={onSave} />);
    await userEvent.type(screen.getByLabelText(/GREETING/), '?');
    await userEvent.click(screen.getByRole('button', { name: 'Save 1 change' }));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'Could not save: unknown key "NOPE"',
    );
    expect(screen.getByLabelText<HTMLInputElement>(/GREETING/).value).toBe('Hello?');
  });
});
