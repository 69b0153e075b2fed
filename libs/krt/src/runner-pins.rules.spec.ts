import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RUNNER_PYTHON_DEPENDENCIES, runnerPinProblem } from './runner-pins.rules.js';

describe(runnerPinProblem.name, () => {
  it.each([
    'protobuf==3.20.1', // KRE-era KRTs pin this
    'protobuf==7.36.2',
    'protobuf>=3.19,<5',
    'protobuf~=4.21',
    'protobuf==5.*',
    'protobuf!=4.0.0',
    'nats_py==2.9.0',
    'PyNaCl>=1.5.0',
    'protobuf', // no version: pip picks one the runner allows
    'numpy==1.0.0', // not the runner's
    'protobuf==3.19.0 ; python_version < "3.8"', // a marker: not judged
  ])('accepts %s', (line) => {
    expect(runnerPinProblem(line)).toBeUndefined();
  });

  it.each([
    ['protobuf==3.19.6', 'protobuf>=3.20,<8'],
    ['protobuf<3.20', 'protobuf>=3.20,<8'],
    ['protobuf>=8', 'protobuf>=3.20,<8'],
    ['protobuf ~=3.19.0', 'protobuf>=3.20,<8'],
    ['protobuf==3.19.*', 'protobuf>=3.20,<8'],
    ['nats-py==2.2.0', 'nats-py>=2.9,<3'],
    ['nats.py<2.9', 'nats-py>=2.9,<3'],
    ['uvloop==0.17.0', 'uvloop>=0.21,<1'],
    ['pynacl[tests]==1.4.0', 'pynacl>=1.5,<2'],
    ['protobuf>5,<5', 'protobuf>=3.20,<8'],
  ])('refuses %s, naming the range the runner needs', (line, needs) => {
    expect(runnerPinProblem(line)).toContain(`the runner itself needs ${needs}`);
  });

  it('knows the ranges runners/python/pyproject.toml declares', () => {
    const pyproject = readFileSync(
      new URL('../../../runners/python/pyproject.toml', import.meta.url),
      'utf8',
    );
    const block = /^dependencies = \[([\s\S]*?)^\]/m.exec(pyproject)![1];
    const declared = Object.fromEntries(
      [...block.matchAll(/^\s*"([a-z0-9.-]+)>=([\d.]+),<([\d.]+)/gim)].map((m) => [
        m[1].toLowerCase(),
        [m[2], m[3]],
      ]),
    );
    expect(declared).toEqual(RUNNER_PYTHON_DEPENDENCIES);
  });
});
