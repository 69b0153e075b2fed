import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UploadForm } from '../src/pages/new-version.tsx';
import { UploadError, type UploadedVersion } from '../src/rest.ts';
import { RouterProvider } from '../src/router.tsx';

const krt = () => new File([new Uint8Array(16)], 'greeter.krt', { type: 'application/gzip' });

describe(UploadForm.name, () => {
  afterEach(cleanup);

  it('shows the progress, then opens the new version', async () => {
    let finish: (v: UploadedVersion) => void = () => undefined;
    const upload = vi.fn((_runtime: string, _file: Blob, progress: (f: number) => void) => {
      progress(0.5);
      return new Promise<UploadedVersion>((resolve) => (finish = resolve));
    });
    window.history.replaceState(null, '', '/runtimes/rt-1/versions/new');
    render(
      <RouterProvider>
        <UploadForm runtimeId="rt-1" upload={upload} />
      </RouterProvider>,
    );
    await userEvent.upload(screen.getByLabelText('KRT file (.krt)'), krt());
    await userEvent.click(screen.getByRole('button', { name: 'Upload' }));
    expect(upload.mock.calls[0]![0]).toBe('rt-1');
    expect(screen.getByLabelText<HTMLProgressElement>('Upload progress').value).toBe(0.5);
    expect(screen.getByText('50%', { selector: '[aria-live]' })).toBeTruthy();
    finish({
      runtimeId: 'rt-1',
      name: 'greeter-v1',
      status: 'CREATED',
      krtVersion: 'v1',
      workflows: [],
    });
    await vi.waitFor(() =>
      expect(window.location.pathname).toBe('/runtimes/rt-1/versions/greeter-v1'),
    );
  });

  it('lists every validation error with its path (and line)', async () => {
    const upload = vi.fn(() =>
      Promise.reject(
        new UploadError('the KRT is invalid (2 errors)', [
          {
            path: 'kre.yaml',
            message: 'workflows[0].nodes[1].image is required',
            line: 12,
            column: 7,
          },
          { path: 'src/greeter/main.py', message: 'file is missing' },
        ]),
      ),
    );
    render(
      <RouterProvider>
        <UploadForm runtimeId="rt-1" upload={upload} />
      </RouterProvider>,
    );
    await userEvent.upload(screen.getByLabelText('KRT file (.krt)'), krt());
    await userEvent.click(screen.getByRole('button', { name: 'Upload' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The version was refused: the KRT is invalid (2 errors)');
    const items = screen.getAllByRole('listitem').map((li) => li.textContent);
    expect(items).toEqual([
      'kre.yaml:12:7 workflows[0].nodes[1].image is required',
      'src/greeter/main.py file is missing',
    ]);
    expect(screen.getByRole('button', { name: 'Upload' }).hasAttribute('disabled')).toBe(false);
  });
});
