import { CombinedGraphQLErrors } from '@apollo/client/errors';

/**
 * admin-api's refusals by field: `BAD_USER_INPUT` carries `errors: [{field: 'input.cpu',
 * message}]` (apps/admin-api/src/common/validation.ts). Returns each field's message (without
 * the `input.` prefix) and what is left as one general message.
 */
export function fieldErrors(error: unknown): { fields: Record<string, string>; general: string } {
  const fields: Record<string, string> = {};
  const general: string[] = [];
  const graphqlErrors = CombinedGraphQLErrors.is(error) ? error.errors : [];
  for (const e of graphqlErrors) {
    const listed = e.extensions?.errors;
    if (e.extensions?.code === 'BAD_USER_INPUT' && Array.isArray(listed) && listed.length) {
      for (const item of listed as { field?: unknown; message?: unknown }[]) {
        const field = typeof item.field === 'string' ? item.field.replace(/^input\./, '') : '';
        const message = typeof item.message === 'string' ? item.message : 'is invalid';
        if (field) fields[field] = fields[field] ? `${fields[field]}; ${message}` : message;
        else general.push(message);
      }
    } else general.push(e.message);
  }
  if (!graphqlErrors.length && error instanceof Error) general.push(error.message);
  return { fields, general: general.join('; ') };
}
