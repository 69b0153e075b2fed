// The exitpoint: each ticket reaches it once, either from the classifier or from escalation.
// What it returns becomes the Classification response.
export async function handler(_ctx, data) {
  return { id: data.id, label: data.label, escalated: data.escalated, team: data.team };
}
