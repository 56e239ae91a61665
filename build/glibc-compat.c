/*
 * Linked into the release binaries only (build/release.sh, through build/Release.targets): binds the libm functions
 * whose default symbol version glibc 2.29 moved (exp, exp2, log, log2, pow: new implementations without the SVID
 * error-handling wrapper) to the versions every glibc since the architecture's first has, so the binary starts on
 * glibc 2.28 (RHEL 8) and older. The link passes -Wl,--wrap=NAME for each: the calls go to __wrap_NAME, which calls
 * the old version. Both versions compute the same values (glibc's old entry points wrap the same code; they differ
 * only in how they report errors, which .NET does not read).
 */
#if defined(__x86_64__)
#define FERRY_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define FERRY_GLIBC_BASE "GLIBC_2.17"
#else
#error "glibc-compat.c: linux-x64 and linux-arm64 only"
#endif

#define FERRY_OLD(name)                                                     \
    double ferry_old_##name(double);                                        \
    __asm__(".symver ferry_old_" #name "," #name "@" FERRY_GLIBC_BASE);

#define FERRY_OLD2(name)                                                    \
    double ferry_old_##name(double, double);                                \
    __asm__(".symver ferry_old_" #name "," #name "@" FERRY_GLIBC_BASE);

FERRY_OLD(exp)
FERRY_OLD(exp2)
FERRY_OLD(log)
FERRY_OLD(log2)
FERRY_OLD2(pow)

double __wrap_exp(double x) { return ferry_old_exp(x); }
double __wrap_exp2(double x) { return ferry_old_exp2(x); }
double __wrap_log(double x) { return ferry_old_log(x); }
double __wrap_log2(double x) { return ferry_old_log2(x); }
double __wrap_pow(double x, double y) { return ferry_old_pow(x, y); }
