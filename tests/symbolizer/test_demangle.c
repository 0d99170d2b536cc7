/* Demangling: C++ names as binutils' c++filt prints them; Rust names
 * without the hash (legacy) or crate disambiguator (v0), as perf and
 * Pyroscope show them; C names left alone. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sym.h"

int main(void)
{
	static const struct { const char *mangled, *want; } cases[] = {
		{ "_ZN3foo3barEi", "foo::bar(int)" },
		{ "_ZNSt6vectorIiSaIiEE9push_backERKi",
		  "std::vector<int, std::allocator<int> >::push_back(int const&)" },
		{ "_ZN7myspace6LoaderC2Ev", "myspace::Loader::Loader()" },
		{ "_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write" },
		{ "_RNvCs1234_7mycrate4main", "mycrate::main" },
		/* PLT stubs: the function's part, then @plt, as perf shows them. */
		{ "_ZN3foo3barEi@plt", "foo::bar(int)@plt" },
		{ "strlen@plt", NULL },
		{ "_Zgarbage@plt", NULL },
		{ "main", NULL },           /* C: not mangled */
		{ "_start", NULL },
		{ "_Zgarbage", NULL },      /* looks mangled, is not */
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = sym_demangle(cases[i].mangled);

		CHECK_STR(got, cases[i].want);
		free(got);
	}
	CHECK(sym_demangle(NULL) == NULL, "NULL");
	return check_report("demangle");
}
