import DOMPurify from 'dompurify';
import { Marked } from 'marked';

/**
 * Tenant Markdown (a KRT's docs/) as sanitised HTML: marked renders it with raw HTML escaped
 * (shown as text), then DOMPurify keeps only inert markup (no script, event handler, style,
 * form, frame or javascript: URL, whatever Markdown produced). The portal's CSP refuses inline
 * scripts, inline styles and remote images as a last line.
 */
const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Markdown only: raw HTML in the source is shown as text, never parsed as markup. */
const markdownOnly = new Marked({
  gfm: true,
  async: false,
  renderer: { html: ({ text }) => escapeHtml(text) },
});

export function renderMarkdown(markdown: string): string {
  const html = markdownOnly.parse(markdown, { async: false });
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe'],
    FORBID_ATTR: ['style'],
  });
}

// Links leave the portal in a new tab without handing it a reference (window.opener).
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.getAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

export function Markdown({ source }: { source: string }) {
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(source) }} />;
}
