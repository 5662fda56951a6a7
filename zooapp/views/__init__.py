"""HTML views: function views that check access, call one service or selector, and render."""
