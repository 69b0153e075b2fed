import { GraphQLSchemaHost } from '@nestjs/graphql';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

describe('GraphQL hardening', () => {
  let h: Harness;
  let admin: string;
  beforeAll(async () => {
    h = await Harness.start();
    admin = await h.signIn(h.adminEmail);
  });
  afterAll(() => h.close());

  it('serves exactly the checked-in schema (apps/admin-api/schema.gql)', async () => {
    const file = fileURLToPath(new URL('../schema.gql', import.meta.url));
    const sdl = await prettier.format(
      printSchema(lexicographicSortSchema(h.get(GraphQLSchemaHost).schema)),
      {
        ...(await prettier.resolveConfig(file)),
        parser: 'graphql',
      },
    );
    // Run `npx vitest run --project int apps/admin-api/test/graphql.int-spec.ts -u` to accept
    // a deliberate change, and commit the file.
    await expect(sdl).toMatchFileSnapshot(file);
  });

  it('G1: refuses deep documents, and pages past 100', async () => {
    const deep = `{ me { ${'a { '.repeat(14)}b${' }'.repeat(14)} } }`;
    const result = await h.gql(deep, {}, { session: admin });
    expect(result.errors?.map((e) => e.message)).toContain(
      'the query is 16 levels deep; at most 10 are allowed',
    );
    const page = await h.gql(
      '{ userActivityList(limit: 1000000) { cursor } }',
      {},
      { session: admin },
    );
    expect(page.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'limit', message: 'must be at most 100' }],
    });
  });

  it('G2: refuses more than 15 aliases, and batched requests', async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `m${i}: me { id }`).join(' ');
    const result = await h.gql(`{ ${aliases} }`, {}, { session: admin });
    expect(result.errors?.[0]).toMatchObject({
      message: 'the document has 16 aliases; at most 15 are allowed',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const batch = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `${h.cookieName}=${admin}` },
      body: JSON.stringify(Array.from({ length: 100 }, () => ({ query: '{ me { id } }' }))),
    });
    expect(batch.status).toBe(400);
  });

  it('reports every invalid input field at once', async () => {
    const result = await h.gql(
      'mutation { createUser(input: {email: "nope", platformRole: USER}) { id } }',
      {},
      { session: admin },
    );
    expect(result.errors?.[0].extensions).toEqual({
      code: 'BAD_USER_INPUT',
      errors: [{ field: 'input.email', message: 'must be an email address' }],
    });
    const settings = await h.gql(
      'mutation { updateSettings(input: {authAllowedDomains: ["not a domain"], signInLinkTtlMinutes: 11, sessionIdleMinutes: 0}) { sessionIdleMinutes } }',
      {},
      { session: admin },
    );
    expect(settings.errors?.[0].extensions).toEqual({
      code: 'BAD_USER_INPUT',
      errors: [
        {
          field: 'input.authAllowedDomains',
          message: 'must list domain names such as example.com',
        },
        { field: 'input.sessionIdleMinutes', message: 'must not be less than 1' },
        {
          field: 'input.signInLinkTtlMinutes',
          message: 'must be at most 10 (ASVS: out-of-band codes live 10 minutes at most)',
        },
      ],
    });
  });
});

describe('GraphQL in production', () => {
  let h: Harness;
  let admin: string;
  beforeAll(async () => {
    h = await Harness.start({ NODE_ENV: 'production' });
    admin = await h.signIn(h.adminEmail);
  });
  afterAll(() => h.close());

  it('G3: no introspection, no landing page, no "Did you mean"', async () => {
    const introspection = await h.gql('{ __schema { types { name } } }', {}, { session: admin });
    expect(introspection.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const typo = await h.gql('{ mee { id } }', {}, { session: admin });
    expect(typo.errors?.[0].message).not.toMatch(/did you mean/i);
    const landing = await fetch(`${h.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await landing.text()).not.toMatch(/graphiql/i);
  });

  it('G3: with the database down, the client sees a generic error and an id; the log has the cause', async () => {
    await h.connection().close();
    const result = await h.gql('{ me { id } }', {}, { session: admin });
    expect(result.errors).toHaveLength(1);
    const [error] = result.errors!;
    expect(error.message).toBe('internal error');
    expect(error.extensions).toEqual({
      code: 'INTERNAL_SERVER_ERROR',
      errorId: expect.stringMatching(/^[0-9a-f-]{36}$/) as string,
    });
    expect(JSON.stringify(result)).not.toMatch(/mongo|127\.0\.0\.1|\n\s+at /i);
    const logged = h.logs.lines.find((line) => line.includes(error.extensions!.errorId as string));
    expect(logged).toMatch(/Mongo|connection/i);
  });
});
