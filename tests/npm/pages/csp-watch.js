// Loaded first by every test page: records each Content-Security-Policy violation (the
// pages are served with the strict policy the console uses; the test fails on any).
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI || 'inline'} (${e.sourceFile || '?'}:${e.lineNumber || 0})`);
});
