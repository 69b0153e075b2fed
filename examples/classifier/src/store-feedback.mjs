// Keeps labelled tickets in the object store declared in kre.yaml (scope: project).
export async function handler(ctx, data) {
  await ctx.objectStore.save(`feedback/${data.id}.json`, JSON.stringify(data));
  return { stored: true };
}
