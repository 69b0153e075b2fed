/** The REST routes the portal calls: sign-in (a cookie must be set) and the KRT upload. */

export class RestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

async function post<T>(path: string, body: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch {
    throw new RestError('the server did not answer', 0, {});
  }
  const parsed = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    const message = typeof parsed.message === 'string' ? parsed.message : `HTTP ${response.status}`;
    throw new RestError(message, response.status, parsed);
  }
  return parsed as T;
}

export const auth = {
  requestLink: (email: string) => post<{ message: string }>('/api/v1/auth/signin', { email }),
  inspect: (token: string) => post<{ email: string }>('/api/v1/auth/signin/inspect', { token }),
  verify: (token: string) =>
    post<{ user: { id: string; email: string } }>('/api/v1/auth/signin/verify', { token }),
  logout: () => post<{ message: string }>('/api/v1/auth/logout', {}),
};

/** `kre login --email` approved by this browser's session (the account the grant is for). */
export const cliLogin = {
  approve: (userCode: string) =>
    post<{ approved: true; email: string }>('/api/v1/cli-login/approve', { userCode }),
};

/** One problem of an uploaded KRT, as admin-api lists them (`KRT_INVALID`). */
export interface KrtProblem {
  path: string;
  message: string;
  line?: number;
  column?: number;
  severity?: string;
}

export interface UploadedVersion {
  runtimeId: string;
  name: string;
  status: string;
  krtVersion: string;
  workflows: string[];
}

export class UploadError extends Error {
  constructor(
    message: string,
    readonly problems: KrtProblem[],
  ) {
    super(message);
  }
}

/**
 * POSTs a .krt as multipart `file` (XMLHttpRequest: fetch reports no upload progress). The
 * header marks it as the portal's own (admin-api refuses cookie uploads without one: CSRF).
 */
export function uploadKrt(
  runtimeId: string,
  file: Blob,
  onProgress: (fraction: number) => void,
): Promise<UploadedVersion> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/runtimes/${encodeURIComponent(runtimeId)}/versions`);
    xhr.withCredentials = true;
    xhr.setRequestHeader('X-Requested-With', 'kre-portal');
    xhr.responseType = 'json';
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new UploadError('the upload failed: the server did not answer', []));
    xhr.onload = () => {
      const body = (xhr.response ?? {}) as Record<string, unknown>;
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body as unknown as UploadedVersion);
      // KRT_INVALID lists {path, message, line?, column?}; BAD_USER_INPUT lists {field, message}.
      const listed = Array.isArray(body.errors) ? (body.errors as Record<string, unknown>[]) : [];
      const text = (value: unknown) => (typeof value === 'string' ? value : '');
      const problems = listed.map((e) => ({
        ...(e as unknown as KrtProblem),
        path: text(e.path) || text(e.field),
        message: text(e.message),
      }));
      const message = typeof body.message === 'string' ? body.message : `HTTP ${xhr.status}`;
      reject(new UploadError(message, problems));
    };
    const form = new FormData();
    form.append('file', file, file instanceof File ? file.name : 'version.krt');
    xhr.send(form);
  });
}
