// Render the formulas that pymdownx.arithmatex (generic mode) leaves in the
// pages as \(...\) and \[...\], with the KaTeX shipped under assets/katex/.
// A formula KaTeX cannot read is reported on the console (the browser check
// fails on it) and left as it was written.
document$.subscribe(() => {
  for (const element of document.querySelectorAll(".arithmatex")) {
    const tex = element.textContent.trim();
    const display = tex.startsWith("\\[");
    try {
      katex.render(tex.slice(2, -2), element, { displayMode: display, throwOnError: true });
    } catch (error) {
      console.error(`KaTeX cannot render ${tex}: ${error.message}`);
    }
  }
});
