package dev.pkrseq.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Runs {@link LeakCheck} after every JUnit Jupiter test class. Registered for all classes through
 * {@code META-INF/services/org.junit.jupiter.api.extension.Extension} and
 * {@code junit.jupiter.extensions.autodetection.enabled=true} in junit-platform.properties.
 */
public final class LeakCheckExtension implements BeforeAllCallback, AfterAllCallback {
    /** Created by JUnit's service loading. */
    public LeakCheckExtension() {
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        LeakCheck.beforeClass();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        LeakCheck.afterClass(context.getRequiredTestClass().getName());
    }
}
