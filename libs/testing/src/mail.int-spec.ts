import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { waitForMail } from './mailpit.js';
import { testEnv } from './test-env.js';

describe('SMTP through Mailpit', () => {
  const env = testEnv();

  it('sends a mail over SMTP and reads it back through the Mailpit API', async () => {
    const to = `${env.KRE_PREFIX}@example.test`;
    const transport = nodemailer.createTransport(env.SMTP_URL);
    await transport.sendMail({
      from: 'kre@kre.local',
      to,
      subject: 'Sign in to KRE',
      text: 'Your link: http://127.0.0.1/signin#abc',
      html: '<p>Your link: <a href="http://127.0.0.1/signin#abc">sign in</a></p>',
    });
    transport.close();

    const mail = await waitForMail(env.MAILPIT_URL, to);
    expect(mail.Subject).toBe('Sign in to KRE');
    expect(mail.To.map((t) => t.Address)).toEqual([to]);
    expect(mail.Text).toContain('http://127.0.0.1/signin#abc');
    expect(mail.HTML).toContain('href="http://127.0.0.1/signin#abc"');
  });
});
