// Live progress: while the region asks for it (data-refresh, in seconds), fetch this page again
// and swap the region in, until nothing is left to wait for. Without JavaScript, reload by hand.
const region = () => document.getElementById("progress");

async function refresh() {
  const current = region();
  if (!current || !current.dataset.refresh) return;
  const seconds = Number(current.dataset.refresh) || 2;
  await new Promise((done) => setTimeout(done, seconds * 1000));
  try {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (response.ok) {
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("progress");
      if (fresh) current.replaceWith(fresh);
    }
  } catch (error) {
    // the network blipped: try again at the next turn
  }
  refresh();
}

refresh();
