import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  InvocationKeySetting,
  QUOTA_FIELDS,
  QuotaPanel,
  RetentionForm,
  validateQuota,
  type Quota,
} from '../src/components/runtime-settings.tsx';

const QUOTA: Quota = {
  replicas: 20,
  cpu: '8',
  memory: '32Gi',
  gpus: 0,
  storage: '16Gi',
  observabilityStorage: '1Gi',
  observabilityMaxAge: '7d',
};

/** admin-api's refusal of an input field (InputValidationPipe). */
const refused = (field: string, message: string) =>
  new CombinedGraphQLErrors({
    data: null,
    errors: [
      {
        message: `invalid input: ${field}: ${message}`,
        extensions: { code: 'BAD_USER_INPUT', errors: [{ field, message }] },
      },
    ],
  });

describe(QuotaPanel.name, () => {
  afterEach(cleanup);

  it('shows every quota field and the replicas in use; no edit button unless allowed', () => {
    render(<QuotaPanel quota={QUOTA} replicasInUse={5} canEdit={false} onSave={vi.fn()} />);
    expect(screen.getByTestId('quota-replicas').textContent).toBe('5 of 20 in use');
    expect(QUOTA_FIELDS.map((f) => screen.getByTestId(`quota-${f.key}`).textContent)).toEqual([
      '5 of 20 in use',
      '8',
      '32Gi',
      '0',
      '16Gi',
      '1Gi',
      '7d',
    ]);
    expect(screen.queryByRole('button')).toBeNull();
  });

  it('a field admin-api adds is shown before the list knows it', () => {
    const withNew = { ...QUOTA, futureLimit: '5Gi' } as Quota;
    render(<QuotaPanel quota={withNew} replicasInUse={null} canEdit={false} onSave={vi.fn()} />);
    expect(screen.getByText('futureLimit').nextSibling?.textContent).toBe('5Gi');
  });

  it('checks the fields and the comment before sending, and names each problem', async () => {
    const onSave = vi.fn(() => Promise.resolve());
    render(<QuotaPanel quota={QUOTA} replicasInUse={0} canEdit onSave={onSave} />);
    await userEvent.click(screen.getByRole('button', { name: 'Edit quota' }));
    await userEvent.clear(screen.getByLabelText(/^Replicas/));
    await userEvent.type(screen.getByLabelText(/^Replicas/), 'ten');
    await userEvent.clear(screen.getByLabelText(/^Memory/));
    await userEvent.type(screen.getByLabelText(/^Memory/), '32 gigs');
    await userEvent.click(screen.getByRole('button', { name: 'Save quota' }));
    expect(onSave).not.toHaveBeenCalled();
    expect(screen.getByText('Replicas must be a whole number, 0 or more')).toBeTruthy();
    expect(screen.getByText('Memory must be a quantity (e.g. 32Gi)')).toBeTruthy();
    expect(screen.getByText('Comment is required (why: kept in the audit log)')).toBeTruthy();
    expect(screen.getByLabelText(/^Memory/).getAttribute('aria-invalid')).toBe('true');
  });

  it('sends every field at once, counts as numbers, with the comment', async () => {
    const onSave = vi.fn(() => Promise.resolve());
    const { rerender } = render(
      <QuotaPanel quota={QUOTA} replicasInUse={0} canEdit onSave={onSave} />,
    );
    await userEvent.click(screen.getByRole('button', { name: 'Edit quota' }));
    await userEvent.clear(screen.getByLabelText(/^GPUs/));
    await userEvent.type(screen.getByLabelText(/^GPUs/), '2');
    await userEvent.type(screen.getByLabelText(/^Comment/), 'team grows');
    await userEvent.click(screen.getByRole('button', { name: 'Save quota' }));
    expect(onSave).toHaveBeenCalledWith({
      replicas: 20,
      cpu: '8',
      memory: '32Gi',
      gpus: 2,
      storage: '16Gi',
      observabilityStorage: '1Gi',
      observabilityMaxAge: '7d',
      comment: 'team grows',
    });
    expect((await screen.findByRole('status')).textContent).toBe('Quota saved.');
    // admin-api's new quota arrives (the refetch): shown, and the confirmation stays.
    rerender(
      <QuotaPanel quota={{ ...QUOTA, gpus: 2 }} replicasInUse={0} canEdit onSave={onSave} />,
    );
    expect(screen.getByTestId('quota-gpus').textContent).toBe('2');
    expect(screen.getByRole('status').textContent).toBe('Quota saved.');
  });

  it('shows admin-api’s refusal beside its field', async () => {
    const onSave = vi.fn(() => Promise.reject(refused('input.cpu', 'must be at most 10000')));
    render(<QuotaPanel quota={QUOTA} replicasInUse={0} canEdit onSave={onSave} />);
    await userEvent.click(screen.getByRole('button', { name: 'Edit quota' }));
    await userEvent.type(screen.getByLabelText(/^Comment/), 'more');
    await userEvent.click(screen.getByRole('button', { name: 'Save quota' }));
    expect((await screen.findByText('CPU must be at most 10000')).id).toBe('quota-error-cpu');
    expect(screen.getByLabelText(/^CPU/).getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByRole('alert').textContent).toBe('Check the fields marked above.');
  });

  it('validates quantities as Kubernetes writes them', () => {
    const ok = {
      replicas: '1',
      cpu: '500m',
      memory: '512Mi',
      gpus: '0',
      storage: '1e3',
      observabilityStorage: '64Mi',
      observabilityMaxAge: '36h',
    };
    expect(validateQuota(ok)).toEqual({});
    expect(validateQuota({ ...ok, cpu: '-1', gpus: '1.5', observabilityMaxAge: '1 week' })).toEqual(
      {
        cpu: 'must be a quantity (e.g. 8, 0.5 or 500m)',
        gpus: 'must be a whole number, 0 or more',
        observabilityMaxAge: 'must be a duration (e.g. 7d, 36h or 90m)',
      },
    );
  });
});

describe(RetentionForm.name, () => {
  afterEach(cleanup);

  it('a member who is no ADMIN sees the retention and no form', () => {
    render(
      <RetentionForm retention={{ days: 30, isDefault: true }} canEdit={false} onSave={vi.fn()} />,
    );
    expect(screen.getByTestId('retention').textContent).toBe(
      'Logs, metrics, predictions and measurements are kept 30 days (the installation’s default).',
    );
    expect(screen.queryByRole('button')).toBeNull();
    expect(screen.queryByRole('textbox')).toBeNull();
  });

  it('an ADMIN sets 1 to 365 days, or goes back to the default', async () => {
    const onSave = vi.fn(() => Promise.resolve());
    render(<RetentionForm retention={{ days: 7, isDefault: false }} canEdit onSave={onSave} />);
    const days = screen.getByLabelText('Days kept');
    await userEvent.clear(days);
    await userEvent.type(days, '400');
    await userEvent.click(screen.getByRole('button', { name: 'Save retention' }));
    expect(screen.getByRole('alert').textContent).toBe(
      'Days kept must be a whole number of days from 1 to 365',
    );
    expect(onSave).not.toHaveBeenCalled();
    await userEvent.clear(days);
    await userEvent.type(days, '90');
    await userEvent.click(screen.getByRole('button', { name: 'Save retention' }));
    expect(onSave).toHaveBeenLastCalledWith(90);
    await userEvent.click(screen.getByRole('button', { name: 'Use the default' }));
    expect(onSave).toHaveBeenLastCalledWith(null);
  });
});

describe(InvocationKeySetting.name, () => {
  afterEach(cleanup);

  it('says whether calls need a key; only an ADMIN gets the switch, which asks first', async () => {
    const { rerender } = render(
      <InvocationKeySetting required canEdit={false} onChange={vi.fn()} />,
    );
    expect(screen.getByTestId('require-key').textContent).toMatch(/refuses calls without/);
    expect(screen.queryByRole('button')).toBeNull();

    const onChange = vi.fn(() => Promise.resolve());
    const confirm = vi.fn().mockReturnValueOnce(false).mockReturnValueOnce(true);
    vi.stubGlobal('confirm', confirm);
    rerender(<InvocationKeySetting required canEdit onChange={onChange} />);
    const button = screen.getByRole('button', { name: 'Stop requiring an invocation key' });
    await userEvent.click(button);
    expect(onChange).not.toHaveBeenCalled();
    await userEvent.click(button);
    expect(onChange).toHaveBeenCalledWith(false);
    expect(confirm).toHaveBeenCalledTimes(2);
    vi.unstubAllGlobals();
  });
});
