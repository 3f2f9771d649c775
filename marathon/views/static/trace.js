// The trace page: a click on a bar opens its span's details below (attributes, events, links).
"use strict";

function openSpan(id) {
  const details = document.getElementById(`span-${id}`);
  if (!details) return;
  for (const d of document.querySelectorAll("details.span.selected")) d.classList.remove("selected");
  details.open = true;
  details.classList.add("selected");
  details.scrollIntoView({ block: "nearest" });
}

for (const bar of document.querySelectorAll("rect[data-span-id]")) {
  bar.addEventListener("click", () => openSpan(bar.dataset.spanId));
}
if (location.hash.startsWith("#span-")) openSpan(location.hash.slice(6));
