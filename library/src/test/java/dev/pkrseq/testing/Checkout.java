package dev.pkrseq.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The repository's root folder, where README.md, bench/ and target/pkrseq.jar are. Tests run in their
 * module's folder (library/ or tool/); the build passes the root as the system property {@code pkrseq.root}.
 */
public final class Checkout {
    private Checkout() {
    }

    /**
     * The root folder of the checkout.
     *
     * @return the absolute, normalised root; a module's parent folder when the property is not set
     * @throws IllegalStateException when that folder holds no README.md
     */
    public static Path root() {
        Path root = Path.of(System.getProperty("pkrseq.root", "..")).toAbsolutePath().normalize();
        if (!Files.isRegularFile(root.resolve("README.md"))) {
            throw new IllegalStateException("not the repository root (no README.md): " + root
                    + "; run the tests through Maven, or set -Dpkrseq.root");
        }
        return root;
    }
}
