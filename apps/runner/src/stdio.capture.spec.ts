import { describe, expect, it } from 'vitest';
import {
  CaptureChannel,
  type CapturedStream,
  installStdioCapture,
  runAsRunner,
  runAsUserCode,
} from './stdio.capture.js';

/** A channel and what reached its sink. */
function channel() {
  const capture = new CaptureChannel();
  const lines: [string, CapturedStream, string | undefined][] = [];
  return {
    capture,
    lines,
    attach: () =>
      capture.attach((line, stream, requestId) => lines.push([line, stream, requestId])),
  };
}

describe('stdio capture', () => {
  it("gives each node of a process its own printed lines, across awaits, with the request's id", async () => {
    installStdioCapture();
    const a = channel();
    const b = channel();
    a.attach();
    b.attach();
    await Promise.all([
      runAsUserCode({ capture: a.capture, requestId: 'r1' }, async () => {
        process.stdout.write('a: before\n');
        await new Promise((done) => setTimeout(done, 5));
        process.stderr.write('a: after\n');
      }),
      runAsUserCode({ capture: b.capture }, async () => {
        await new Promise((done) => setTimeout(done, 1));
        process.stdout.write('b: one\nb: two\n');
        runAsRunner(() => process.stdout.write('the runner itself\n'));
      }),
    ]);
    process.stdout.write('nobody\n');
    expect(a.lines).toEqual([
      ['a: before', 'STDOUT', 'r1'],
      ['a: after', 'STDERR', 'r1'],
    ]);
    expect(b.lines).toEqual([
      ['b: one', 'STDOUT', undefined],
      ['b: two', 'STDOUT', undefined],
    ]);
  });

  it('keeps what a module prints before its runner starts, and delivers it first; none after it stops', () => {
    installStdioCapture();
    const a = channel();
    runAsUserCode({ capture: a.capture }, () => process.stdout.write('top level\n'));
    expect(a.lines).toEqual([]);
    a.attach();
    runAsUserCode({ capture: a.capture }, () => process.stdout.write('handler\n'));
    a.capture.detach();
    runAsUserCode({ capture: a.capture }, () => process.stdout.write('after stop\n'));
    expect(a.lines.map(([line]) => line)).toEqual(['top level', 'handler']);
  });
});
