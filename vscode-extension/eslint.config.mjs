// Lint: typescript-eslint's recommended rules on the extension and its tests.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "out/", "node_modules/"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-floating-promises": "off",
      eqeqeq: "error",
      "no-console": "error",
    },
  },
);
