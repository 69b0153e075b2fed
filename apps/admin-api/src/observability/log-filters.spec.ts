import { describe, expect, it } from 'vitest';
import { type LogLine, escapeRegex, logMatches, logsQuery } from './log-filters.js';
import { decodeLogCursor, encodeLogCursor } from './logs-cursor.js';
import { LogLevel } from './logs.model.js';

const line = (more: Partial<LogLine> = {}): LogLine => ({
  time: new Date('2026-12-05T00:00:00Z'),
  level: 'INFO',
  message: 'Model A.C loaded',
  source: 'LOGGER',
  origin: { version: 'v1', workflow: 'wf', node: 'n1', replica: 'r1' },
  ...more,
});

describe(logsQuery.name, () => {
  it('turns every filter into equality (one value), $in (several) or an escaped case-insensitive $regex', () => {
    expect(
      logsQuery({
        search: 'a.c (x',
        levels: [LogLevel.ERROR],
        versionNames: ['v1'],
        workflowNames: ['wf'],
        nodeNames: ['n1'],
        requestId: 'r',
      }),
    ).toEqual({
      message: { $regex: 'a\\.c \\(x', $options: 'i' },
      level: 'ERROR',
      'origin.version': 'v1',
      'origin.workflow': 'wf',
      'origin.node': 'n1',
      requestId: 'r',
    });
    expect(
      logsQuery({ levels: [LogLevel.WARN, LogLevel.ERROR], nodeNames: ['n1', 'entrypoint'] }),
    ).toEqual({ level: { $in: ['WARN', 'ERROR'] }, 'origin.node': { $in: ['n1', 'entrypoint'] } });
  });

  it('ignores empty lists', () => {
    expect(logsQuery({ levels: [], nodeNames: [] })).toEqual({});
  });
});

describe(logMatches.name, () => {
  it('applies the same filters in memory as the query does in the database', () => {
    const search = 'a.c';
    expect(new RegExp(escapeRegex(search), 'i').test(line().message)).toBe(true);
    expect(logMatches({ search }, line())).toBe(true);
    expect(logMatches({ search }, line({ message: 'abc' }))).toBe(false);
    expect(logMatches({ levels: [LogLevel.WARN] }, line())).toBe(false);
    expect(logMatches({ workflowNames: ['wf2'] }, line())).toBe(false);
    expect(logMatches({ workflowNames: ['wf'], nodeNames: ['n1'] }, line())).toBe(true);
    expect(logMatches({ requestId: 'r' }, line())).toBe(false);
    expect(logMatches({ requestId: 'r' }, line({ requestId: 'r' }))).toBe(true);
  });
});

describe(decodeLogCursor.name, () => {
  it('reads back what encodeLogCursor wrote and refuses anything else', () => {
    const position = { time: new Date('2026-12-05T00:00:00.123Z'), id: 42 };
    expect(decodeLogCursor(encodeLogCursor(position))).toEqual(position);
    expect(() => decodeLogCursor('bogus')).toThrow(/cursor/);
    expect(() => decodeLogCursor(Buffer.from('[1,-2]').toString('base64url'))).toThrow(/cursor/);
  });
});
