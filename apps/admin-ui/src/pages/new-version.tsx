import { useState } from 'react';
import { UploadError, uploadKrt, type KrtProblem } from '../rest.ts';
import { Link, paths, useLocation } from '../router.tsx';

/** Uploads a .krt (progress shown); a refused one lists every problem with its path. */
export function NewVersionPage({ runtimeId }: { runtimeId: string }) {
  return (
    <section aria-labelledby="new-version-title">
      <p>
        <Link href={paths.runtime(runtimeId)}>← Versions of {runtimeId}</Link>
      </p>
      <h1 id="new-version-title">Upload a new version</h1>
      <UploadForm runtimeId={runtimeId} />
    </section>
  );
}

export function UploadForm({
  runtimeId,
  upload = uploadKrt,
}: {
  runtimeId: string;
  upload?: typeof uploadKrt;
}) {
  const { navigate } = useLocation();
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [failure, setFailure] = useState<{ message: string; problems: KrtProblem[] } | null>(null);
  return (
    <form
      className="panel"
      aria-label="Upload a KRT"
      onSubmit={(event) => {
        event.preventDefault();
        if (!file) return;
        setFailure(null);
        setProgress(0);
        upload(runtimeId, file, setProgress).then(
          (version) => navigate(paths.version(runtimeId, version.name)),
          (error: Error) => {
            setProgress(null);
            setFailure({
              message: error.message,
              problems: error instanceof UploadError ? error.problems : [],
            });
          },
        );
      }}
    >
      <label htmlFor="krt-file">KRT file (.krt)</label>
      <input
        id="krt-file"
        type="file"
        accept=".krt,application/gzip,application/x-tar"
        required
        onChange={(event) => setFile(event.target.files?.[0] ?? null)}
      />
      <p className="muted">
        Pack a project with <code>kre krt pack &lt;dir&gt; -o version.krt</code>.
      </p>
      <button type="submit" className="primary" disabled={!file || progress !== null}>
        {progress === null ? 'Upload' : 'Uploading…'}
      </button>
      {progress !== null && (
        <div>
          <label htmlFor="upload-progress">Upload progress</label>
          <progress id="upload-progress" max={1} value={progress}>
            {Math.round(progress * 100)}%
          </progress>
          <span aria-live="polite">
            {' '}
            {progress >= 1 ? 'Validating…' : `${Math.round(progress * 100)}%`}
          </span>
        </div>
      )}
      {failure && (
        <div role="alert" className="error">
          <p>The version was refused: {failure.message}</p>
          {failure.problems.length > 0 && (
            <ul aria-label="Validation errors">
              {failure.problems.map((p, i) => (
                <li key={i}>
                  <code>
                    {p.path}
                    {p.line !== undefined
                      ? `:${p.line}${p.column !== undefined ? `:${p.column}` : ''}`
                      : ''}
                  </code>{' '}
                  {p.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </form>
  );
}
