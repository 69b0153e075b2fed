/** A message as Mailpit's API returns it. */
export interface CaughtMail {
  ID: string;
  Subject: string;
  From: { Address: string };
  To: { Address: string }[];
  Text: string;
  HTML: string;
}

/** Waits for the newest mail sent to `to` and returns it in full (Mailpit HTTP API). */
export async function waitForMail(
  mailpitUrl: string,
  to: string,
  timeoutMs = 10_000,
): Promise<CaughtMail> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const search = await fetch(
      `${mailpitUrl}/api/v1/search?query=${encodeURIComponent(`to:"${to}"`)}&limit=1`,
    );
    if (!search.ok)
      throw new Error(`Mailpit search failed: ${search.status} ${await search.text()}`);
    const { messages } = (await search.json()) as { messages: { ID: string }[] };
    if (messages.length > 0) {
      const message = await fetch(`${mailpitUrl}/api/v1/message/${messages[0].ID}`);
      if (!message.ok) throw new Error(`Mailpit message failed: ${message.status}`);
      return (await message.json()) as CaughtMail;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${to} reached Mailpit within ${timeoutMs} ms`);
}
