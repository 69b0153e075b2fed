import { useQuery, useSubscription } from '@apollo/client/react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ResultOf } from '../graphql.ts';
import { LOGS, WATCH_LOGS } from '../queries.ts';
import { paths } from '../router.tsx';
import { Empty, ErrorState, Loading } from './states.tsx';

type Line = ResultOf<typeof LOGS>['logs']['items'][number];
const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
type Level = (typeof LEVELS)[number];
const RANGES = { '15m': 15, '1h': 60, '24h': 1_440, '7d': 10_080 } as const;
type Range = keyof typeof RANGES;
/** Live lines kept beyond the loaded pages (older ones drop off the end). */
const MAX_LIVE = 20_000;

/**
 * A version's logs: filters (level, node, text, range), pages of stored lines, and a live tail
 * (watchNodeLogs) on top. Only the visible rows are in the DOM (@tanstack/react-virtual), so
 * tens of thousands of lines scroll smoothly.
 */
export function LogsView({
  runtimeId,
  versionName,
  nodeNames,
}: {
  runtimeId: string;
  versionName: string;
  nodeNames: readonly string[];
}) {
  const [levels, setLevels] = useState<Level[]>([]);
  const [node, setNode] = useState('');
  const [search, setSearch] = useState('');
  const [range, setRange] = useState<Range>('1h');
  const [tail, setTail] = useState(true);
  const [live, setLive] = useState<Line[]>([]);
  const pending = useRef<Line[]>([]);
  const flush = useRef<number | null>(null);
  // The range's start, fixed when the filters change (not on each render).
  const startDate = useMemo(
    () => new Date(Date.now() - RANGES[range] * 60_000).toISOString(),
    [range, levels, node, search],
  );
  const tailFilters = {
    levels: levels.length ? levels : undefined,
    nodeNames: node ? [node] : undefined,
    search: search || undefined,
  };
  const { data, loading, error, fetchMore } = useQuery(LOGS, {
    variables: {
      runtimeId,
      limit: 100,
      filters: { ...tailFilters, startDate, versionNames: [versionName] },
    },
  });
  const tailing = useSubscription(WATCH_LOGS, {
    skip: !tail,
    variables: { runtimeId, versionName, filters: tailFilters },
    onData: ({ data: event }) => {
      const line = event.data?.watchNodeLogs;
      if (!line) return;
      // Lines are buffered and shown in one render per frame: a burst of thousands of lines
      // costs a few renders, not one each.
      pending.current.unshift(line);
      if (flush.current === null) {
        flush.current = window.setTimeout(() => {
          flush.current = null;
          const batch = pending.current;
          pending.current = [];
          setLive((previous) => [...batch, ...previous].slice(0, MAX_LIVE));
        }, 100);
      }
    },
  });
  useEffect(
    () => () => {
      if (flush.current !== null) window.clearTimeout(flush.current);
    },
    [],
  );
  const stored = data?.logs.items ?? [];
  const lines = useMemo(() => {
    const ids = new Set(live.map((l) => l.id).filter(Boolean));
    return [...live, ...stored.filter((l) => !l.id || !ids.has(l.id))];
  }, [live, stored]);

  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: lines.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 28,
    overscan: 20,
  });

  const reset = () => {
    pending.current = [];
    setLive([]);
  };
  return (
    <section aria-label="Logs" className="logs">
      <form
        className="inline filters"
        aria-label="Log filters"
        onSubmit={(event) => event.preventDefault()}
      >
        <fieldset>
          <legend>Levels</legend>
          {LEVELS.map((level) => (
            <label key={level} className="check">
              <input
                type="checkbox"
                checked={levels.includes(level)}
                onChange={(event) => {
                  reset();
                  setLevels(
                    event.target.checked ? [...levels, level] : levels.filter((l) => l !== level),
                  );
                }}
              />
              {level}
            </label>
          ))}
        </fieldset>
        <label htmlFor="log-node">Node</label>
        <select
          id="log-node"
          value={node}
          onChange={(event) => {
            reset();
            setNode(event.target.value);
          }}
        >
          <option value="">All nodes</option>
          {nodeNames.map((n) => (
            <option key={n}>{n}</option>
          ))}
        </select>
        <label htmlFor="log-search">Text</label>
        <input
          id="log-search"
          type="search"
          value={search}
          onChange={(event) => {
            reset();
            setSearch(event.target.value);
          }}
        />
        <label htmlFor="log-range">Since</label>
        <select
          id="log-range"
          value={range}
          onChange={(event) => setRange(event.target.value as Range)}
        >
          {Object.keys(RANGES).map((r) => (
            <option key={r} value={r}>
              last {r}
            </option>
          ))}
        </select>
        <label className="check">
          <input
            type="checkbox"
            checked={tail}
            onChange={(event) => setTail(event.target.checked)}
          />
          Live tail
        </label>
        <a href={paths.version(runtimeId, versionName, 'logs')} target="_blank" rel="noopener">
          Open in a new tab
        </a>
      </form>
      {tail && tailing.error && <ErrorState what="the live tail" error={tailing.error} />}
      {loading && !data && <Loading what="the logs" />}
      {error && <ErrorState what="the logs" error={error} />}
      {!loading && !error && lines.length === 0 && (
        <Empty>
          No log line in this range{tail ? ' yet: new lines appear here as they are logged' : ''}.
        </Empty>
      )}
      {lines.length > 0 && (
        <div
          ref={scroller}
          className="log-scroll"
          role="log"
          aria-label={`Log lines, newest first (${lines.length})`}
          data-testid="log-lines"
          data-count={lines.length}
          tabIndex={0}
        >
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {virtualizer.getVirtualItems().map((item) => {
              const line = lines[item.index]!;
              return (
                <div
                  key={item.key}
                  className={`log-line level-${line.level.toLowerCase()}`}
                  style={{
                    position: 'absolute',
                    top: 0,
                    left: 0,
                    right: 0,
                    transform: `translateY(${item.start}px)`,
                  }}
                >
                  <time dateTime={line.date}>{new Date(line.date).toLocaleTimeString()}</time>
                  <span className="level">{line.level}</span>
                  <span className="node">{line.nodeName}</span>
                  <span className="message">{line.message}</span>
                </div>
              );
            })}
          </div>
        </div>
      )}
      {data?.logs.cursor && (
        <button
          type="button"
          onClick={() =>
            void fetchMore({
              variables: { cursor: data.logs.cursor },
              updateQuery: (previous, { fetchMoreResult }) => ({
                logs: {
                  ...fetchMoreResult.logs,
                  items: [...previous.logs.items, ...fetchMoreResult.logs.items],
                },
              }),
            })
          }
        >
          Load older lines
        </button>
      )}
    </section>
  );
}
