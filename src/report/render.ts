/**
 * The report formats: pure renderers of one report object. The CLI picks one with --format, the
 * API with `?format=` or the Accept header (media types below).
 */
import { renderHtml } from './render-html.ts';
import { renderMarkdown } from './render-markdown.ts';
import { renderSarif } from './render-sarif.ts';
import { renderText } from './render-text.ts';
import type { Report } from './schema.ts';

export const FORMATS = ['text', 'json', 'markdown', 'sarif', 'html'] as const;
export type Format = (typeof FORMATS)[number];

export function isFormat(value: string): value is Format {
  return (FORMATS as readonly string[]).includes(value);
}

/** The media type each format is served as (the API negotiates on these). */
export const MEDIA_TYPES: Record<Format, string> = {
  json: 'application/json',
  markdown: 'text/markdown',
  sarif: 'application/sarif+json',
  html: 'text/html',
  text: 'text/plain',
};

export function renderReport(report: Report, format: Format): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'markdown':
      return renderMarkdown(report);
    case 'sarif':
      return `${JSON.stringify(renderSarif(report), null, 2)}\n`;
    case 'html':
      return renderHtml(report);
    case 'text':
      return renderText(report);
  }
}
