import { describe, expect, it } from 'vitest';
import { KrtIgnore, globToRegExp } from './krtignore.matcher.js';

describe(KrtIgnore.name, () => {
  it('ignores what git would not commit, by default', () => {
    const sut = KrtIgnore.parse();
    expect(sut.ignores('.git', true)).toBe(true);
    expect(sut.ignores('src/node_modules', true)).toBe(true);
    expect(sut.ignores('old-v1.krt', false)).toBe(true);
    expect(sut.ignores('docs/.DS_Store', false)).toBe(true);
    expect(sut.ignores('src/etl.js', false)).toBe(false);
    expect(sut.ignores('node_modules', false)).toBe(false);
  });

  it('reads gitignore-style patterns: comments, folders, anchors, negation, **', () => {
    const sut = KrtIgnore.parse(
      [
        '# comment',
        '',
        '*.log',
        'build/',
        '/secrets.txt',
        'docs/**/*.tmp',
        'data/*',
        '!data/keep.csv',
        'notes[0-9].md',
        '\\#literal',
      ].join('\n'),
      [],
    );
    expect(sut.ignores('run.log', false)).toBe(true);
    expect(sut.ignores('src/deep/run.log', false)).toBe(true);
    expect(sut.ignores('build', true)).toBe(true);
    expect(sut.ignores('build', false)).toBe(false);
    expect(sut.ignores('secrets.txt', false)).toBe(true);
    expect(sut.ignores('src/secrets.txt', false)).toBe(false);
    expect(sut.ignores('docs/a.tmp', false)).toBe(true);
    expect(sut.ignores('docs/a/b/c.tmp', false)).toBe(true);
    expect(sut.ignores('data/x.csv', false)).toBe(true);
    expect(sut.ignores('data/keep.csv', false)).toBe(false);
    expect(sut.ignores('notes1.md', false)).toBe(true);
    expect(sut.ignores('notesA.md', false)).toBe(false);
    expect(sut.ignores('#literal', false)).toBe(true);
    expect(sut.ignores('# comment', false)).toBe(false);
  });

  it('translates globs without letting * cross folders', () => {
    expect(globToRegExp('*.js').test('a.js')).toBe(true);
    expect(globToRegExp('*.js').test('a/b.js')).toBe(false);
    expect(globToRegExp('a/**').test('a/b/c')).toBe(true);
    expect(globToRegExp('**/x').test('x')).toBe(true);
    expect(globToRegExp('**/x').test('a/b/x')).toBe(true);
    expect(globToRegExp('a?c').test('a/c')).toBe(false);
    expect(globToRegExp('[!a]b').test('cb')).toBe(true);
    expect(globToRegExp('[!a]b').test('ab')).toBe(false);
    expect(globToRegExp('a.(b)+').test('a.(b)+')).toBe(true);
  });
});
