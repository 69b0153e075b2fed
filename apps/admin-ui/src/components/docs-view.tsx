import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { VERSION_DOCS } from '../queries.ts';
import { Markdown } from './markdown.tsx';
import { Empty, ErrorState, Loading } from './states.tsx';

/** The version's documentation: the Markdown files under the KRT's docs/, sanitised. */
export default function DocsView({
  runtimeId,
  versionName,
  files,
}: {
  runtimeId: string;
  versionName: string;
  files: readonly string[];
}) {
  const markdown = files.filter((f) => /\.md$/i.test(f));
  const [path, setPath] = useState(
    markdown.find((f) => /^docs\/readme\.md$/i.test(f)) ?? markdown[0] ?? '',
  );
  const { data, loading, error } = useQuery(VERSION_DOCS, {
    variables: { runtimeId, name: versionName, path },
    skip: !path,
  });
  if (markdown.length === 0) return <Empty>This version has no documentation (docs/*.md).</Empty>;
  return (
    <section aria-label="Documentation" className="docs">
      {markdown.length > 1 && (
        <label>
          Document{' '}
          <select value={path} onChange={(event) => setPath(event.target.value)}>
            {markdown.map((f) => (
              <option key={f}>{f}</option>
            ))}
          </select>
        </label>
      )}
      {loading && !data && <Loading what={path} />}
      {error && <ErrorState what={path} error={error} />}
      {data && <Markdown source={data.versionDocs} />}
    </section>
  );
}
