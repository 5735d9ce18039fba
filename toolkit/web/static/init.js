// Start the NHS.UK frontend components (header menu, error summary focus, skip link).
import { initAll } from "/assets/nhsuk-frontend.min.js";

initAll();

// The create form's short id follows the title until the facilitator types one of their own
// (the server makes the same id from the title when the field is left blank).
function slugFor(title) {
  const plain = title.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  const slug = plain.replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return slug.slice(0, 80).replace(/-+$/, "");
}

const slugField = document.querySelector("[data-slug-from]");
const titleField = slugField && document.getElementById(slugField.dataset.slugFrom);
if (slugField && titleField) {
  let typed = slugField.value !== "" && slugField.value !== slugFor(titleField.value);
  slugField.addEventListener("input", () => { typed = slugField.value !== ""; });
  titleField.addEventListener("input", () => {
    if (!typed) slugField.value = slugFor(titleField.value);
  });
}
