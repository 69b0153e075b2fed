import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VersionActions, allowedActions } from '../src/components/version-actions.tsx';

describe(VersionActions.name, () => {
  afterEach(cleanup);

  it('offers what the status allows: no start before the config is complete', () => {
    expect(allowedActions('CREATED', false)).toEqual(['delete']);
    expect(allowedActions('STOPPED', true)).toEqual(['start', 'delete']);
    expect(allowedActions('STARTED', true)).toEqual(['publish', 'stop']);
    expect(allowedActions('PUBLISHED', true)).toEqual(['unpublish']);
    expect(allowedActions('STOPPING', true)).toEqual([]);
  });

  it('an action needs a comment, which it sends', async () => {
    const onAction = vi.fn(() => Promise.resolve());
    render(
      <VersionActions
        status="STOPPED"
        configCompleted
        publishedVersion={null}
        versionName="v2"
        onAction={onAction}
      />,
    );
    await userEvent.click(screen.getByRole('button', { name: 'Start' }));
    const submit = screen.getByRole('button', { name: 'Start v2' });
    expect(submit.hasAttribute('disabled')).toBe(true);
    await userEvent.type(screen.getByLabelText(/Comment/), '  first run ');
    await userEvent.click(submit);
    expect(onAction).toHaveBeenCalledWith('start', 'first run');
  });

  it('publishing warns when another version is published', async () => {
    render(
      <VersionActions
        status="STARTED"
        configCompleted
        publishedVersion="v1"
        versionName="v2"
        onAction={vi.fn()}
      />,
    );
    await userEvent.click(screen.getByRole('button', { name: 'Publish' }));
    expect(screen.getByRole('alert').textContent).toContain(
      'Version v1 is published now: publishing v2 takes its place',
    );
  });

  it('no warning when this version is the published one or none is', async () => {
    render(
      <VersionActions
        status="STARTED"
        configCompleted
        publishedVersion={null}
        versionName="v2"
        onAction={vi.fn()}
      />,
    );
    await userEvent.click(screen.getByRole('button', { name: 'Publish' }));
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('a refused action shows why and keeps the form', async () => {
    const onAction = vi.fn(() =>
      Promise.reject(new Error('the runtime quota allows 1 started version')),
    );
    render(
      <VersionActions
        status="STOPPED"
        configCompleted
        publishedVersion={null}
        versionName="v2"
        onAction={onAction}
      />,
    );
    await userEvent.click(screen.getByRole('button', { name: 'Start' }));
    await userEvent.type(screen.getByLabelText(/Comment/), 'go');
    await userEvent.click(screen.getByRole('button', { name: 'Start v2' }));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'the runtime quota allows 1 started version',
    );
  });
});
