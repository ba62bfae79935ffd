// ESLint for the chat page's scripts (`make lint`). They are classic browser scripts sharing one global
// scope (lambda/agent_api/chat_page/shared.js says how); the vendored libraries are checked against the
// npm lock instead (tests/agent_api/test_agent_api_page_assets.py).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["lambda/agent_api/chat_page/vendor/"] },
  js.configs.recommended,
  {
    files: ["lambda/agent_api/chat_page/**/*.js"],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "script",
      globals: globals.browser,
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      eqeqeq: "error",
      "no-var": "error",
      "prefer-const": "error",
      strict: ["error", "global"],
      "no-unused-vars": ["error", { caughtErrors: "none" }],
      "no-implicit-coercion": "error",
      "no-shadow": ["error", { builtinGlobals: false }],
    },
  },
];
