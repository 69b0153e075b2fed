// "Format Reply": the exitpoint (last of `sequential`); what it returns becomes the
// GreetResponse, so it returns exactly the fields of that message.
export async function handler(_ctx, data) {
  return { greeting: data.text };
}
