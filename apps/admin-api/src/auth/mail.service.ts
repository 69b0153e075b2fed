import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const minutesText = (n: number) => `${n} minute${n === 1 ? '' : 's'}`;

/** Outgoing mail over SMTP (`SMTP_URL`). */
@Injectable()
export class MailService implements OnModuleDestroy {
  private readonly transport: Transporter;

  constructor(@Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv) {
    this.transport = nodemailer.createTransport(env.SMTP_URL);
  }

  onModuleDestroy(): void {
    this.transport.close();
  }

  async sendSignInLink(to: string, link: string, ttlMinutes: number): Promise<void> {
    const minutes = minutesText(ttlMinutes);
    await this.transport.sendMail({
      from: this.env.SMTP_FROM,
      to,
      subject: 'Your KRE sign-in link',
      text: [
        'Sign in to KRE with this link:',
        '',
        link,
        '',
        `It works once, in the next ${minutes}. Only the newest link you requested works.`,
        'If you did not ask to sign in, ignore this mail.',
      ].join('\n'),
      html: `<!doctype html><html><body style="font-family:sans-serif">
<h1 style="font-size:20px">KRE Login Link</h1>
<p><a href="${escapeHtml(link)}">Sign in to KRE</a></p>
<p>The link works once, in the next ${minutes}. Only the newest link you requested works.</p>
<p style="color:#666">If you did not ask to sign in, ignore this mail.</p>
</body></html>`,
    });
  }

  /**
   * The approval link of `kre login --email`: it names the request (a terminal asking to sign in
   * as this address, from which address) and says that nothing is approved without the code the
   * terminal shows, so a mail nobody asked for is recognisably harmless.
   */
  async sendCliLoginLink(
    to: string,
    link: string,
    ttlMinutes: number,
    requestedFrom: string,
  ): Promise<void> {
    const minutes = minutesText(ttlMinutes);
    await this.transport.sendMail({
      from: this.env.SMTP_FROM,
      to,
      subject: 'Approve the kre command-line sign-in',
      text: [
        `A kre command (kre login --email, from ${requestedFrom}) asks to sign in to KRE as ${to}.`,
        'To approve it, open this link and type the code your terminal shows (or paste the link there):',
        '',
        link,
        '',
        `The link works in the next ${minutes}. Nothing is approved without the terminal's code.`,
        'If you did not run kre login, ignore this mail.',
      ].join('\n'),
      html: `<!doctype html><html><body style="font-family:sans-serif">
<h1 style="font-size:20px">Approve the kre command-line sign-in</h1>
<p>A <code>kre</code> command (<code>kre login --email</code>, from ${escapeHtml(requestedFrom)}) asks to sign in to KRE as <strong>${escapeHtml(to)}</strong>.</p>
<p><a href="${escapeHtml(link)}">Review and approve it</a> with the code your terminal shows, or paste the link into that terminal.</p>
<p>The link works in the next ${minutes}. Nothing is approved without the terminal's code.</p>
<p style="color:#666">If you did not run kre login, ignore this mail.</p>
</body></html>`,
    });
  }
}
