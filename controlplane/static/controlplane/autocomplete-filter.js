'use strict';
// A list filter with an autocomplete box (Django's select2 widget): choosing a row, or
// clearing the box, reloads the change list with the filter's parameter set or removed.
{
    const $ = django.jQuery;
    $(document).on('change', 'select.autocomplete-filter', function() {
        const url = new URL(window.location.href);
        url.searchParams.delete(this.dataset.lookup);
        url.searchParams.delete('p');
        if (this.value) {
            url.searchParams.set(this.dataset.lookup, this.value);
        }
        window.location.assign(url.toString());
    });
}
