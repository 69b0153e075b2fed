// Refuses feedback without an id or label; a thrown error reaches the caller as an error.
export async function handler(_ctx, data) {
  if (!data.id || !data.label) throw new Error('feedback needs an id and a label');
  return { id: data.id, label: data.label };
}
