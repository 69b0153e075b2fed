import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
/** admin-api in development (`npm run dev:ui` proxies the API to it). */
const api = process.env.KRE_API ?? 'http://127.0.0.1:8080';

/**
 * The portal: built into dist/admin-ui, which admin-api serves (apps/admin-api/src/portal).
 * In development Vite serves it and proxies the API, the sign-in routes and the GraphQL
 * WebSocket to admin-api, rewriting the browser's Origin to admin-api's own so that its
 * Origin checks (CORS, the WebSocket upgrade) see the origin they know.
 */
export default defineConfig({
  root: here,
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../../dist/admin-ui', import.meta.url)),
    emptyOutDir: true,
    // The polyfill would be an inline script, which the portal's CSP refuses.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: true },
      '/graphql': {
        target: api,
        changeOrigin: true,
        ws: true,
        configure: (proxy) => {
          proxy.on('proxyReq', (req) => req.setHeader('origin', api));
          proxy.on('proxyReqWs', (req) => req.setHeader('origin', api));
        },
      },
    },
  },
});
