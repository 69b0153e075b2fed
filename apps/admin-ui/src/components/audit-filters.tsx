import { useState } from 'react';
import type { VariablesOf } from '../graphql.ts';
import type { AUDIT } from '../queries.ts';

export type AuditFilterInput = NonNullable<VariablesOf<typeof AUDIT>['filters']>;
type ActivityType = NonNullable<AuditFilterInput['types']>[number];

/** The audit log's entry types (UserActivityType), in the order people look for them. */
export const ACTIVITY_TYPES: readonly ActivityType[] = [
  'LOGIN',
  'LOGOUT',
  'SIGN_UP',
  'SIGN_IN_LINK_SENT',
  'CREATE_RUNTIME',
  'UPDATE_RUNTIME',
  'DELETE_RUNTIME',
  'SET_RUNTIME_QUOTA',
  'ADD_RUNTIME_MEMBER',
  'UPDATE_RUNTIME_MEMBER_ROLE',
  'REMOVE_RUNTIME_MEMBER',
  'CREATE_VERSION',
  'START_VERSION',
  'STOP_VERSION',
  'PUBLISH_VERSION',
  'UNPUBLISH_VERSION',
  'DELETE_VERSION',
  'UPDATE_VERSION_CONFIGURATION',
  'UPDATE_VERSION_SCALE',
  'UPDATE_NODE_AUTOSCALE',
  'UPDATE_ENTRYPOINT_AUTOSCALE',
  'CREATE_INVOCATION_KEY',
  'REVOKE_INVOCATION_KEY',
  'GENERATE_API_TOKEN',
  'DELETE_API_TOKEN',
  'CREATE_USER',
  'REMOVE_USERS',
  'UPDATE_PLATFORM_ROLES',
  'REVOKE_SESSIONS',
  'UPDATE_ACCESS_LEVELS',
  'UPDATE_SETTING',
];

export interface AuditForm {
  types: ActivityType[];
  userEmail: string;
  /** `YYYY-MM-DD` (an <input type="date">), local days. */
  from: string;
  to: string;
}

export const EMPTY_AUDIT_FORM: AuditForm = { types: [], userEmail: '', from: '', to: '' };

/**
 * The form as `UserActivityFilters`: whole local days (from its first to the last millisecond
 * of `to`), empty fields left out; or the errors by field.
 */
export function auditFilters(
  form: AuditForm,
  runtimeId: string | undefined,
): { filters: AuditFilterInput } | { errors: Partial<Record<keyof AuditForm, string>> } {
  const errors: Partial<Record<keyof AuditForm, string>> = {};
  const day = (value: string, end: boolean) => {
    if (!value) return undefined;
    const date = new Date(`${value}T${end ? '23:59:59.999' : '00:00:00'}`);
    return Number.isNaN(date.getTime()) ? null : date.toISOString();
  };
  const fromDate = day(form.from, false);
  const toDate = day(form.to, true);
  if (fromDate === null) errors.from = 'is not a date';
  if (toDate === null) errors.to = 'is not a date';
  if (fromDate && toDate && fromDate > toDate) errors.to = 'must be on or after the From day';
  const email = form.userEmail.trim();
  if (email && !/^[^\s@]+@[^\s@]+$/.test(email)) errors.userEmail = 'must be an email address';
  if (Object.keys(errors).length) return { errors };
  return {
    filters: {
      runtimeId,
      ...(form.types.length ? { types: form.types } : {}),
      ...(email ? { userEmail: email } : {}),
      ...(fromDate ? { fromDate } : {}),
      ...(toDate ? { toDate } : {}),
    },
  };
}

/** Filters of the audit log: types, who, a range of days. Applied on submit. */
export function AuditFiltersForm({
  runtimeId,
  onApply,
}: {
  runtimeId: string | undefined;
  onApply: (filters: AuditFilterInput) => void;
}) {
  const [form, setForm] = useState<AuditForm>(EMPTY_AUDIT_FORM);
  const [errors, setErrors] = useState<Partial<Record<keyof AuditForm, string>>>({});
  const set = <K extends keyof AuditForm>(key: K, value: AuditForm[K]) =>
    setForm((f) => ({ ...f, [key]: value }));
  const apply = (next: AuditForm) => {
    const result = auditFilters(next, runtimeId);
    if ('errors' in result) return setErrors(result.errors);
    setErrors({});
    onApply(result.filters);
  };
  const error = (key: keyof AuditForm, label: string) =>
    errors[key] && (
      <p id={`audit-${key}-error`} className="field-error" role="alert">
        {label} {errors[key]}
      </p>
    );
  const described = (key: keyof AuditForm) => ({
    'aria-invalid': Boolean(errors[key]),
    'aria-describedby': errors[key] ? `audit-${key}-error` : undefined,
  });
  return (
    <form
      className="panel audit-filters"
      aria-label="Filter the audit log"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        apply(form);
      }}
    >
      <div className="row">
        <div>
          <label htmlFor="audit-types">Types (none selected: all)</label>
          <select
            id="audit-types"
            multiple
            size={5}
            value={form.types}
            onChange={(e) =>
              set(
                'types',
                [...e.target.options].filter((o) => o.selected).map((o) => o.value as ActivityType),
              )
            }
          >
            {ACTIVITY_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="audit-email">User email</label>
          <input
            id="audit-email"
            type="email"
            value={form.userEmail}
            {...described('userEmail')}
            onChange={(e) => set('userEmail', e.target.value)}
          />
          {error('userEmail', 'User email')}
        </div>
        <div>
          <label htmlFor="audit-from">From</label>
          <input
            id="audit-from"
            type="date"
            value={form.from}
            {...described('from')}
            onChange={(e) => set('from', e.target.value)}
          />
          {error('from', 'From')}
        </div>
        <div>
          <label htmlFor="audit-to">To</label>
          <input
            id="audit-to"
            type="date"
            value={form.to}
            {...described('to')}
            onChange={(e) => set('to', e.target.value)}
          />
          {error('to', 'To')}
        </div>
      </div>
      <div className="row">
        <button type="submit" className="primary">
          Filter
        </button>
        <button
          type="button"
          onClick={() => {
            setForm(EMPTY_AUDIT_FORM);
            apply(EMPTY_AUDIT_FORM);
          }}
        >
          Clear filters
        </button>
      </div>
    </form>
  );
}
