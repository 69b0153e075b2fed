// Normalises the ticket text before classification.
export async function handler(_ctx, data) {
  const text = String(data.text ?? '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
  return { id: data.id, text };
}
