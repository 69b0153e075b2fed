import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AuditFiltersForm,
  EMPTY_AUDIT_FORM,
  auditFilters,
} from '../src/components/audit-filters.tsx';

describe(AuditFiltersForm.name, () => {
  afterEach(cleanup);

  it('turns the form into UserActivityFilters: whole local days, empty fields left out', () => {
    expect(auditFilters(EMPTY_AUDIT_FORM, 'rt-a')).toEqual({ filters: { runtimeId: 'rt-a' } });
    const result = auditFilters(
      { types: ['START_VERSION'], userEmail: ' ada@x.test ', from: '2026-01-02', to: '2026-01-03' },
      undefined,
    );
    expect(result).toEqual({
      filters: {
        runtimeId: undefined,
        types: ['START_VERSION'],
        userEmail: 'ada@x.test',
        fromDate: new Date(2026, 0, 2, 0, 0, 0, 0).toISOString(),
        toDate: new Date(2026, 0, 3, 23, 59, 59, 999).toISOString(),
      },
    });
  });

  it('refuses a range that ends before it starts, naming the field', () => {
    expect(
      auditFilters({ ...EMPTY_AUDIT_FORM, from: '2026-01-05', to: '2026-01-04' }, 'rt-a'),
    ).toEqual({ errors: { to: 'must be on or after the From day' } });
  });

  it('applies types, the user and the days on submit; clearing applies no filter', async () => {
    const onApply = vi.fn();
    render(<AuditFiltersForm runtimeId="rt-a" onApply={onApply} />);
    await userEvent.selectOptions(screen.getByLabelText(/^Types/), [
      'START_VERSION',
      'STOP_VERSION',
    ]);
    await userEvent.type(screen.getByLabelText('User email'), 'ada@x.test');
    await userEvent.type(screen.getByLabelText('From'), '2026-01-02');
    await userEvent.click(screen.getByRole('button', { name: 'Filter' }));
    expect(onApply).toHaveBeenLastCalledWith({
      runtimeId: 'rt-a',
      types: ['START_VERSION', 'STOP_VERSION'],
      userEmail: 'ada@x.test',
      fromDate: new Date(2026, 0, 2).toISOString(),
    });
    await userEvent.click(screen.getByRole('button', { name: 'Clear filters' }));
    expect(onApply).toHaveBeenLastCalledWith({ runtimeId: 'rt-a' });
    expect(screen.getByLabelText<HTMLInputElement>('User email').value).toBe('');
  });

  it('shows a wrong field beside it and applies nothing', async () => {
    const onApply = vi.fn();
    render(<AuditFiltersForm runtimeId={undefined} onApply={onApply} />);
    await userEvent.type(screen.getByLabelText('From'), '2026-02-02');
    await userEvent.type(screen.getByLabelText('To'), '2026-02-01');
    await userEvent.click(screen.getByRole('button', { name: 'Filter' }));
    expect(screen.getByRole('alert').textContent).toBe('To must be on or after the From day');
    expect(screen.getByLabelText('To').getAttribute('aria-invalid')).toBe('true');
    expect(onApply).not.toHaveBeenCalled();
  });
});
