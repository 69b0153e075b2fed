import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

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
    const minutes = `${ttlMinutes} minute${ttlMinutes === 1 ? '' : 's'}`;
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
}
