import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createApolloClient } from './apollo.ts';
import { App } from './app.tsx';
import { RouterProvider } from './router.tsx';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApolloProvider client={createApolloClient()}>
      <RouterProvider>
        <App />
      </RouterProvider>
    </ApolloProvider>
  </StrictMode>,
);
