import { createContext, useCallback, useContext, useEffect, useState } from 'react';
import type { AnchorHTMLAttributes, ReactNode } from 'react';

/** The portal's few routes on the History API: no router library for six paths. */
export type Route =
  | { page: 'signin' }
  | { page: 'runtimes' }
  | { page: 'runtime'; runtimeId: string; tab: RuntimeTab }
  | { page: 'newVersion'; runtimeId: string }
  | { page: 'version'; runtimeId: string; versionName: string; tab: VersionTab }
  | { page: 'tokens' }
  | { page: 'admin' }
  | { page: 'notFound' };

export const RUNTIME_TABS = ['versions', 'members', 'keys', 'settings', 'audit'] as const;
export type RuntimeTab = (typeof RUNTIME_TABS)[number];
export const VERSION_TABS = ['workflows', 'scale', 'config', 'logs', 'metrics', 'docs'] as const;
export type VersionTab = (typeof VERSION_TABS)[number];

const oneOf = <T extends string>(list: readonly T[], value: string | undefined, fallback: T): T =>
  list.find((item) => item === value) ?? fallback;

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const [first, runtimeId, second, versionName, tab] = parts;
  if (parts.length === 0) return { page: 'runtimes' };
  if (first === 'signin' && parts.length === 1) return { page: 'signin' };
  if (first === 'tokens' && parts.length === 1) return { page: 'tokens' };
  if (first === 'admin' && parts.length === 1) return { page: 'admin' };
  if (first === 'runtimes' && runtimeId) {
    if (second === undefined || (parts.length === 3 && RUNTIME_TABS.includes(second as RuntimeTab)))
      return { page: 'runtime', runtimeId, tab: oneOf(RUNTIME_TABS, second, 'versions') };
    if (second === 'versions' && versionName === 'new' && parts.length === 4)
      return { page: 'newVersion', runtimeId };
    if (second === 'versions' && versionName && parts.length <= 5)
      return {
        page: 'version',
        runtimeId,
        versionName,
        tab: oneOf(VERSION_TABS, tab, 'workflows'),
      };
  }
  return { page: 'notFound' };
}

export const paths = {
  runtimes: () => '/',
  runtime: (id: string, tab: RuntimeTab = 'versions') =>
    `/runtimes/${encodeURIComponent(id)}${tab === 'versions' ? '' : `/${tab}`}`,
  newVersion: (id: string) => `/runtimes/${encodeURIComponent(id)}/versions/new`,
  version: (id: string, name: string, tab: VersionTab = 'workflows') =>
    `/runtimes/${encodeURIComponent(id)}/versions/${encodeURIComponent(name)}${tab === 'workflows' ? '' : `/${tab}`}`,
  tokens: () => '/tokens',
  admin: () => '/admin',
  signin: () => '/signin',
};

interface Location {
  pathname: string;
  navigate: (to: string, options?: { replace?: boolean }) => void;
}

const LocationContext = createContext<Location>({ pathname: '/', navigate: () => undefined });

export function RouterProvider({ children }: { children: ReactNode }) {
  const [pathname, setPathname] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = () => setPathname(window.location.pathname);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((to: string, options?: { replace?: boolean }) => {
    if (options?.replace) window.history.replaceState(null, '', to);
    else window.history.pushState(null, '', to);
    setPathname(window.location.pathname);
    window.scrollTo?.(0, 0);
  }, []);
  return <LocationContext value={{ pathname, navigate }}>{children}</LocationContext>;
}

export const useLocation = () => useContext(LocationContext);
export const useRoute = () => parseRoute(useLocation().pathname);

/** An anchor that navigates in place (a new tab with a modifier or the middle button). */
export function Link({
  href,
  children,
  ...rest
}: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { navigate } = useLocation();
  return (
    <a
      href={href}
      {...rest}
      onClick={(event) => {
        rest.onClick?.(event);
        if (event.defaultPrevented || event.button !== 0) return;
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        if (rest.target === '_blank') return;
        event.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
